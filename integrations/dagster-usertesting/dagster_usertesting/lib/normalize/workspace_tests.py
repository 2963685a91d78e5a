"""Workspace tests (legacy v1 GET /workspaces/{uuid}, as `list_workspace_tests` yields them) to TESTS rows.

The v1 API is loosely kept: an item that is not an object or has no UUID cannot name a test and is
skipped (counted by the caller), every other field may be null or a value no document lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.normalize.raw_sessions import parse_api_time
from dagster_usertesting.lib.normalize.values import as_str, table_row
from dagster_usertesting.lib.schema import TESTS

# Tests of this v1 `type` are the ones the Results API (v2/v3) serves; classic ones answer 404 there.
RESULTS_API_TYPE = "STUDYV2"


def served_by_results_api(test: Mapping[str, Any]) -> bool:
    """Whether the Results API serves this listed test (the spec writes enum values in either case)."""
    return _upper(test.get("type")) == RESULTS_API_TYPE


def workspace_test_rows(tests: Iterable[object], extracted_at: datetime) -> list[dict[str, Any]]:
    """One TESTS row per distinct test UUID (compared case-insensitively), first listing wins.

    `workspaceUuid` / `workspaceName` are what the client adds to each test (the workspace that
    listed it); the spec writes enum values in either case, so types are upper-cased.
    """
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in tests:
        if not isinstance(item, dict):
            continue
        try:
            test_id = TestId(item.get("uuid"))
        except ValueError:
            continue
        if test_id.lower() in seen:
            continue
        seen.add(test_id.lower())
        study_type = _upper(item.get("type"))
        rows.append(
            table_row(
                TESTS,
                test_id=test_id,
                title=_text(item.get("title")),
                product_type=_upper(item.get("productType")),
                study_type=study_type,
                workspace_id=_text(item.get("workspaceUuid")),
                workspace_name=_text(item.get("workspaceName")),
                ordered_at=parse_api_time(item.get("orderedAt")),
                syncable=served_by_results_api(item),
                extracted_at=extracted_at,
            )
        )
    return rows


def _text(value: object) -> str | None:
    text = as_str(value)
    return text.strip() or None if text is not None else None


def _upper(value: object) -> str | None:
    text = _text(value)
    return text.upper() if text is not None else None

"""The product's rows of a details payload, as dicts, so tests can name the columns they check."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dagster_usertesting.lib.normalize import session_rows
from dagster_usertesting.lib.schema import ALL_TABLES


def served(payload: object) -> bytes:
    """`payload` as a details body the API could serve (Python's own JSON spelling)."""
    return json.dumps(payload).encode()


def rows_of_body(
    test_id: str, session_id: str, body: bytes, extracted_at: datetime
) -> dict[str, list[dict[str, Any]]]:
    """What a sync makes of a details body (`session_rows`), each row a dict in column order."""
    tables = session_rows(test_id, session_id, body, extracted_at)
    return {
        name: [dict(zip(ALL_TABLES[name].column_names, row, strict=True)) for row in rows]
        for name, rows in tables.items()
    }


def rows_by_column(
    test_id: str, session_id: str, payload: object, extracted_at: datetime
) -> dict[str, list[dict[str, Any]]]:
    """What a sync makes of `payload` served, each row a dict in column order."""
    return rows_of_body(test_id, session_id, served(payload), extracted_at)

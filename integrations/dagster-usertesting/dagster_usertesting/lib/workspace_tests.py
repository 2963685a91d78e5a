"""The landed list of every test the credential can see (legacy v1 workspaces), and titles from it.

    raw/_workspaces/<stamp>.json   {"received_at": ..., "studies": [...]}, each test as served
                                    plus the workspace that listed it (workspaceUuid, workspaceName)

The key is the v1 API's word, "studies": every landed list is read back by it.

The folder name starts with an underscore so it can never be a test's folder (those are UUIDs), and
`Landing.delete_test` never touches it. Each refresh lands a new object; readers take the newest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dagster_usertesting.lib.landing import parse_stamp, stamp
from dagster_usertesting.lib.object_store import ObjectStore

PREFIX = "raw/_workspaces/"


def land_workspace_tests(
    store: ObjectStore, tests: Iterable[Mapping[str, Any]], received_at: datetime
) -> str:
    """Store the tests as received; returns the key."""
    key = f"{PREFIX}{stamp(received_at)}.json"
    body = {"received_at": received_at.isoformat(), "studies": list(tests)}
    store.put_bytes(key, json.dumps(body, ensure_ascii=False).encode(), "application/json")
    return key


def latest_workspace_tests(store: ObjectStore) -> tuple[datetime, list[Any]] | None:
    """The newest landed list: when it was received and its tests; None before the first refresh."""
    for key in sorted((k for k in store.list_keys(PREFIX) if k.endswith(".json")), reverse=True):
        try:
            received_at = parse_stamp(key[len(PREFIX) :].partition(".")[0])
            tests = json.loads(store.get_bytes(key) or b"null")["studies"]
        except (ValueError, TypeError, KeyError):
            continue  # a stray or damaged object: an older list still names the tests
        if isinstance(tests, list):
            return received_at, tests
    return None


def landed_titles(store: ObjectStore) -> dict[str, str]:
    """Title by test ID (lower-cased) from the newest landed list; empty before the first refresh."""
    latest = latest_workspace_tests(store)
    titles: dict[str, str] = {}
    for test in latest[1] if latest else []:
        if not isinstance(test, dict):
            continue
        test_id, title = test.get("uuid"), test.get("title")
        if isinstance(test_id, str) and isinstance(title, str) and title.strip():
            titles.setdefault(test_id.lower(), title.strip())
    return titles


def landed_product_types(store: ObjectStore) -> dict[str, str]:
    """Product type (upper-cased) by test ID from the newest landed list; empty before the first refresh."""
    latest = latest_workspace_tests(store)
    kinds: dict[str, str] = {}
    for test in latest[1] if latest else []:
        if not isinstance(test, dict):
            continue
        test_id, kind = test.get("uuid"), test.get("productType")
        if isinstance(test_id, str) and isinstance(kind, str) and kind.strip():
            kinds.setdefault(test_id.lower(), kind.strip().upper())
    return kinds

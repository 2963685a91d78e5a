"""details_frames, which frames many sessions' rows unchecked, gives exactly the frames `to_frame`
gives for the same rows as dicts, after checking every value's type against schema.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
from dagster_usertesting_tests.normalize.as_dicts import rows_by_column, served

from dagster_usertesting.lib.normalize import SESSION_TABLES, details_frames, session_rows, to_frame
from dagster_usertesting.testing import Dataset, SandboxConfig

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
# Aware UTC, aware elsewhere and naive times: all must land as the same naive UTC values.
TIMES = (
    datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    datetime(2025, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    datetime(2025, 1, 2, 3, 4, 6),
)


def _assert_same(payloads: list[tuple[str, Any, datetime]]) -> None:
    got = details_frames([session_rows(TEST_ID, s, served(payload), at) for s, payload, at in payloads])
    checked: dict[str, list[dict[str, Any]]] = {t.name: [] for t in SESSION_TABLES}
    for session_id, payload, at in payloads:
        for name, rows in rows_by_column(TEST_ID, session_id, payload, at).items():
            checked[name].extend(rows)
    assert list(got) == [t.name for t in SESSION_TABLES]
    for table in SESSION_TABLES:
        expected = to_frame(table, checked[table.name])
        pd.testing.assert_frame_equal(got[table.name], expected, check_exact=True)
    assert got["sessions"]["session_id"].tolist() == [session_id for session_id, _, _ in payloads]


def test_same_frames_as_checked_rows_for_edge_case_payloads(
    full_details: dict[str, Any], null_details: dict[str, Any]
) -> None:
    _assert_same(
        [("s-full", full_details, TIMES[0]), ("s-null", null_details, TIMES[1]), ("s-empty", {}, TIMES[2])]
    )


def test_same_frames_as_checked_rows_for_every_product_type() -> None:
    dataset = Dataset(SandboxConfig(seed=4))  # every product type, task type and generated edge case
    payloads = [
        (session_id, dataset.payload(session_id), TIMES[index % 3])
        for index, session_id in enumerate(s for t in dataset.test_ids for s in dataset.session_ids(t))
    ]
    _assert_same(payloads)


def test_no_sessions_gives_empty_typed_frames() -> None:
    got = details_frames([])
    for table in SESSION_TABLES:
        pd.testing.assert_frame_equal(got[table.name], to_frame(table, []), check_exact=True)

"""details_frames (the fast path for many sessions) gives exactly what details_rows + to_frame give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd

from ut_dagster.lib.normalize import details_frames, details_rows, to_frame
from ut_dagster.lib.normalize.details import DETAIL_TABLES
from ut_dagster.sandbox import Dataset, SandboxConfig

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
# Aware UTC, aware elsewhere and naive times: all must land as the same naive UTC values.
TIMES = (
    datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    datetime(2025, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    datetime(2025, 1, 2, 3, 4, 6),
)


def _expected(payloads: list[tuple[str, Any, datetime]]) -> dict[str, pd.DataFrame]:
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in DETAIL_TABLES}
    for session_id, payload, at in payloads:
        for name, table_rows in details_rows(TEST_ID, session_id, payload, at).items():
            rows[name].extend(table_rows)
    return {t.name: to_frame(t, rows[t.name]) for t in DETAIL_TABLES}


def _assert_same(payloads: list[tuple[str, Any, datetime]]) -> None:
    got = details_frames(TEST_ID, payloads)
    for name, expected in _expected(payloads).items():
        pd.testing.assert_frame_equal(got.frames[name], expected, check_exact=True)
    assert got.failures == {}
    assert got.sessions == [session_id for session_id, _, _ in payloads]


def test_same_frames_as_rows_for_edge_case_payloads(
    full_details: dict[str, Any], null_details: dict[str, Any]
) -> None:
    _assert_same(
        [("s-full", full_details, TIMES[0]), ("s-null", null_details, TIMES[1]), ("s-empty", {}, TIMES[2])]
    )


def test_same_frames_as_rows_for_every_product_type() -> None:
    dataset = Dataset(SandboxConfig(seed=4))  # every product type, task type and generated edge case
    payloads = [
        (session_id, dataset.payload(session_id), TIMES[index % 3])
        for index, session_id in enumerate(s for t in dataset.test_ids for s in dataset.session_ids(t))
    ]
    _assert_same(payloads)


def test_no_sessions_gives_empty_typed_frames() -> None:
    got = details_frames(TEST_ID, [])
    for table in DETAIL_TABLES:
        pd.testing.assert_frame_equal(got.frames[table.name], to_frame(table, []), check_exact=True)


def test_a_malformed_payload_is_named_and_the_others_still_frame(full_details: dict[str, Any]) -> None:
    got = details_frames(TEST_ID, [("bad", {"tasks": "oops"}, TIMES[0]), ("good", full_details, TIMES[0])])
    assert got.failures == {"bad": "session bad: tasks is a string, expected a list"}
    assert got.sessions == ["good"]
    assert got.frames["sessions"]["session_id"].tolist() == ["good"]

"""to_frame: exact columns and stable dtypes, empty or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from dagster_usertesting.lib.normalize import to_frame
from dagster_usertesting.lib.normalize.frames import typed_frame
from dagster_usertesting.lib.schema import ALL_TABLES, QX_SCORES, RAW_SESSIONS, TASKS, Column, Table

EXPECTED_DTYPES = {
    "string": "object",
    "json": "object",
    "timestamp": "datetime64[ns]",
    "bigint": "Int64",
    "double": "float64",
    "boolean": "boolean",
}


@pytest.mark.parametrize("table", list(ALL_TABLES.values()), ids=list(ALL_TABLES))
def test_empty_frame_has_columns_and_dtypes(table: Table) -> None:
    frame = to_frame(table, [])
    assert list(frame.columns) == table.column_names
    assert len(frame) == 0
    assert [str(t) for t in frame.dtypes] == [EXPECTED_DTYPES[c.type] for c in table.columns]


def test_every_logical_type() -> None:
    table = Table(
        "all_types",
        "",
        tuple(
            Column(f"c_{t}", t, "") for t in ("string", "json", "timestamp", "bigint", "double", "boolean")
        ),
    )
    rows = [
        {
            "c_string": "s",
            "c_json": '{"a":1}',
            "c_timestamp": datetime(2024, 1, 1, 14, 0, 0, 123000, tzinfo=timezone(timedelta(hours=2))),
            "c_bigint": 2**53 + 1,
            "c_double": 3,
            "c_boolean": False,
        },
        {},  # every column missing: all null
        {"c_timestamp": datetime(2024, 1, 1, 12, 0), "c_double": 2.5, "c_boolean": True},
    ]
    frame = to_frame(table, rows)

    assert [str(t) for t in frame.dtypes] == [
        "object",
        "object",
        "datetime64[ns]",
        "Int64",
        "float64",
        "boolean",
    ]
    assert frame["c_string"].tolist() == ["s", None, None]
    assert frame["c_json"].tolist() == ['{"a":1}', None, None]
    # tz-aware is converted to UTC and made naive; naive is taken as UTC.
    assert frame["c_timestamp"].tolist()[0] == pd.Timestamp("2024-01-01 12:00:00.123")
    assert pd.isna(frame["c_timestamp"][1])
    assert frame["c_timestamp"][2] == pd.Timestamp("2024-01-01 12:00:00")
    assert frame["c_bigint"][0] == 2**53 + 1  # exact: not squeezed through float
    assert frame["c_bigint"][1] is pd.NA
    assert frame["c_double"].tolist()[0] == 3.0
    assert pd.isna(frame["c_double"][1])
    assert frame["c_boolean"].tolist() == [False, pd.NA, True]


def test_all_null_column_keeps_its_dtype() -> None:
    frame = to_frame(RAW_SESSIONS, [{"test_id": "t", "session_id": "s"}])
    assert str(frame["start_time"].dtype) == "datetime64[ns]"
    assert frame["status"].tolist() == [None]


def test_extra_key_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"row 0 has columns the table does not define: \['sessionId'\]"):
        to_frame(RAW_SESSIONS, [{"test_id": "t", "sessionId": "s"}])


@pytest.mark.parametrize(
    ("table", "row"),
    [
        (RAW_SESSIONS, {"start_time": "2024-11-21T12:23:52Z"}),
        (TASKS, {"position": "3"}),
        (TASKS, {"position": True}),
        (TASKS, {"skipped": "false"}),
        (TASKS, {"answer_json": {"nps": 9}}),
        (QX_SCORES, {"qx_score": "85"}),
    ],
)
def test_wrong_python_type_is_an_error(table: Table, row: dict[str, object]) -> None:
    with pytest.raises(TypeError, match=next(iter(row))):
        to_frame(table, [row])


def test_pandas_missing_markers_count_as_null() -> None:
    frame = to_frame(TASKS, [{"position": pd.NA, "skipped": None, "rating_value": float("nan")}])
    assert frame["position"][0] is pd.NA


def test_utc_datetimes_are_stored_naive() -> None:
    frame = to_frame(RAW_SESSIONS, [{"extracted_at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)}])
    assert frame["extracted_at"].dt.tz is None
    assert frame["extracted_at"][0] == pd.Timestamp("2025-01-02 03:04:05")


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("task_text", float("nan"), None),
        ("task_text", pd.NA, None),
        ("answer_json", {"nps": 9}, '{"nps": 9}'),  # serialised, not written as a Python repr
    ],
)
def test_typed_frame_fixes_what_to_frame_would_not_produce(
    column: str, value: object, expected: object
) -> None:
    frame = to_frame(TASKS, [{"test_id": "t", "session_id": "s1"}, {"test_id": "t", "session_id": "s2"}])
    frame[column] = pd.Series(["text", value], dtype=object)
    typed = typed_frame(TASKS, frame)
    assert typed[column].tolist() == ["text", expected]
    pd.testing.assert_frame_equal(typed_frame(TASKS, typed), typed)  # a typed frame stays as it is


def test_typed_frame_numbers_rows_from_zero() -> None:
    frame = to_frame(TASKS, [{"test_id": "t", "session_id": "s1"}, {"test_id": "t", "session_id": "s2"}])
    typed = typed_frame(TASKS, frame.set_axis([5, 6]))
    pd.testing.assert_frame_equal(typed, frame)

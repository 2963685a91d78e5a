"""Session listing to raw_sessions rows, and API time parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dagster_usertesting.lib.normalize import MalformedPayloadError, listing_rows, parse_api_time
from dagster_usertesting.lib.schema import RAW_SESSIONS

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def session(session_id: str, **fields: object) -> dict[str, object]:
    return {
        "sessionId": session_id,
        "audienceId": None,
        "status": "COMPLETE",
        "startTime": "2024-11-21T12:23:52.614Z",
        "finishTime": "2024-11-21T12:25:03.347Z",
        **fields,
    }


def test_spec_example_gives_exact_row() -> None:
    item = session("41f72104-5f84-44fa-a16a-03f5751596ec", audienceId="41f72104-5f84-44fa-a16a-03f575159611")
    assert listing_rows(TEST_ID, [item], AT) == [
        {
            "test_id": TEST_ID,
            "session_id": "41f72104-5f84-44fa-a16a-03f5751596ec",
            "status": "COMPLETE",
            "start_time": datetime(2024, 11, 21, 12, 23, 52, 614000, tzinfo=UTC),
            "finish_time": datetime(2024, 11, 21, 12, 25, 3, 347000, tzinfo=UTC),
            "audience_id": "41f72104-5f84-44fa-a16a-03f575159611",
            "extracted_at": AT,
        }
    ]


def test_duplicates_keep_the_first_occurrence_in_order() -> None:
    sessions = [session("a", status="FIRST"), session("b"), session("a", status="SECOND"), session("c")]
    out = listing_rows(TEST_ID, sessions, AT)
    assert [r["session_id"] for r in out] == ["a", "b", "c"]
    assert out[0]["status"] == "FIRST"


def test_accepts_any_iterable_and_empty() -> None:
    assert listing_rows(TEST_ID, iter([]), AT) == []
    assert len(listing_rows(TEST_ID, (s for s in [session("a")]), AT)) == 1


def test_null_and_garbage_fields_become_null() -> None:
    item = {"sessionId": "a", "startTime": "yesterday", "finishTime": None, "audienceId": None}
    [row] = listing_rows(TEST_ID, [item], AT)
    assert list(row) == RAW_SESSIONS.column_names
    assert (row["status"], row["start_time"], row["finish_time"], row["audience_id"]) == (None,) * 4


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["a"], "sessions[0] is a string, expected an object"),
        ([{"sessionId": "a"}, None], "sessions[1] is null, expected an object"),
        ([{"sessionId": None}], "sessions[0].sessionId is null, expected a non-empty string"),
        ([{"status": "COMPLETE"}], "sessions[0].sessionId is null, expected a non-empty string"),
        ([{"sessionId": 42}], "sessions[0].sessionId is a number, expected a non-empty string"),
    ],
)
def test_malformed_items_raise(items: list[object], message: str) -> None:
    with pytest.raises(MalformedPayloadError) as raised:
        listing_rows(TEST_ID, items, AT)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-11-21T12:23:52.614Z", datetime(2024, 11, 21, 12, 23, 52, 614000, tzinfo=UTC)),
        ("2024-11-21T12:23:52Z", datetime(2024, 11, 21, 12, 23, 52, tzinfo=UTC)),
        ("2024-11-21T12:23:52.614z", datetime(2024, 11, 21, 12, 23, 52, 614000, tzinfo=UTC)),
        ("2024-11-21T12:23:52.614+00:00", datetime(2024, 11, 21, 12, 23, 52, 614000, tzinfo=UTC)),
        ("2024-11-21T14:23:52.614+02:00", datetime(2024, 11, 21, 12, 23, 52, 614000, tzinfo=UTC)),
        ("2024-11-21T12:23:52.614123Z", datetime(2024, 11, 21, 12, 23, 52, 614123, tzinfo=UTC)),
        ("2024-11-21T12:23:52", datetime(2024, 11, 21, 12, 23, 52, tzinfo=UTC)),
        (" 2024-11-21T12:23:52Z ", datetime(2024, 11, 21, 12, 23, 52, tzinfo=UTC)),
        ("2024-11-21", datetime(2024, 11, 21, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("not a time", None),
        ("2024-13-45T99:00:00Z", None),
        ("0001-01-01T00:00:00Z", None),
        ("9999-12-31T23:59:59Z", None),
        (1732191832614, None),
        ({"time": "2024-11-21"}, None),
    ],
)
def test_parse_api_time(value: object, expected: datetime | None) -> None:
    parsed = parse_api_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_parse_api_time_returns_utc_tzinfo() -> None:
    parsed = parse_api_time("2024-11-21T14:23:52+02:00")
    assert parsed is not None and parsed.tzinfo == UTC
    assert parsed != datetime(2024, 11, 21, 14, 23, 52, tzinfo=timezone(timedelta(hours=1)))

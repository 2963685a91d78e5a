"""When a failing session is asked again, and when it is quarantined."""

from datetime import UTC, datetime, timedelta

from dagster_usertesting.lib.sync.retries import (
    Failure,
    RetryPolicy,
    ask_now,
    failed,
    quarantined,
    waiting_of,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = RetryPolicy(first_retry_minutes=30, max_retry_hours=24, quarantine_after=8)


def test_a_session_never_failing_is_asked():
    assert ask_now(None, NOW, POLICY)


def test_the_wait_doubles_from_the_first_retry_up_to_daily():
    waits = [POLICY.wait(n) for n in range(1, 9)]
    assert waits[:4] == [timedelta(minutes=m) for m in (30, 60, 120, 240)]
    assert waits[-1] == timedelta(hours=24)
    first = failed(None, NOW, "HTTP 503")
    assert not ask_now(first, NOW + timedelta(minutes=29), POLICY)
    assert ask_now(first, NOW + timedelta(minutes=30), POLICY)
    third = failed(failed(first, NOW, "x"), NOW, "x")
    assert third.count == 3
    assert not ask_now(third, NOW + timedelta(minutes=119), POLICY)
    assert ask_now(third, NOW + timedelta(minutes=120), POLICY)


def test_after_the_last_allowed_failure_a_session_is_quarantined_until_asked_for():
    record = None
    for _ in range(7):
        record = failed(record, NOW, "HTTP 404", not_found=True)
    assert not quarantined(record, POLICY)
    record = failed(record, NOW, "HTTP 404", not_found=True)
    assert quarantined(record, POLICY) and record.not_found
    assert not ask_now(record, NOW + timedelta(days=365), POLICY)
    assert ask_now(record, NOW, POLICY, retry_failed=True)


def test_waiting_sessions_are_those_backing_off_or_quarantined():
    failures = {"a": failed(None, NOW, "x"), "b": Failure(1, NOW - timedelta(hours=1), "x")}
    assert waiting_of(failures, ["a", "b", "c"], NOW, POLICY) == {"a"}


def test_a_failure_record_round_trips_through_its_landing_form():
    record = failed(None, NOW, "e" * 600, not_found=True)
    assert len(record.last_error) == 500
    assert Failure.from_json(record.to_json()) == record

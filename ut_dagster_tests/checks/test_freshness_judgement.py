"""When a test counts as fresh, stale or late: the pure judgement behind fresh_in_warehouse."""

from datetime import UTC, datetime, timedelta

from dagster_usertesting.defs.freshness import (
    FAILING,
    FRESH,
    LATE,
    NEVER,
    STALE,
    STOPPED,
    FreshnessLimits,
    TestObservation,
    judge,
    status_of,
)
from dagster_usertesting.defs.probe_schedule import FailureStreak

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = FreshnessLimits(max_age_hours=26, lag_minutes=120)


def _seen(
    synced_ago: timedelta | None, listed_ago: timedelta | None = None, held: bool = True
) -> TestObservation:
    return TestObservation(
        "t",
        last_sync=None if synced_ago is None else NOW - synced_ago,
        newest_session=None if listed_ago is None else "s",
        newest_listed_at=None if listed_ago is None else NOW - listed_ago,
        newest_held=held,
    )


def test_a_test_is_fresh_stale_or_late_by_its_listing_age_and_its_newest_listed_session():
    assert judge(_seen(None), NOW, LIMITS).status == NEVER
    assert judge(_seen(timedelta(hours=25)), NOW, LIMITS).status == FRESH
    assert judge(_seen(timedelta(hours=27)), NOW, LIMITS).status == STALE
    # The newest listed session in the warehouse: fresh, the lag is the listing's age.
    held = judge(_seen(timedelta(hours=1), timedelta(hours=5)), NOW, LIMITS)
    assert (held.status, held.lag) == (FRESH, timedelta(hours=1))
    # Not in the warehouse: fine while the sync has its time, late after, the lag counted from its listing.
    assert judge(_seen(timedelta(minutes=5), timedelta(minutes=119), held=False), NOW, LIMITS).status == FRESH
    late = judge(_seen(timedelta(minutes=5), timedelta(minutes=121), held=False), NOW, LIMITS)
    assert (late.status, late.lag) == (LATE, timedelta(minutes=121))
    assert "not in the warehouse" in late.reason


def test_failing_runs_come_before_freshness_in_a_tests_status():
    fresh = judge(_seen(timedelta(hours=1)), NOW, LIMITS)
    assert status_of(fresh, FailureStreak(), 14) == (FRESH, "")
    assert status_of(fresh, FailureStreak(2, NOW.timestamp(), "boom"), 14)[0] == FAILING
    assert status_of(fresh, FailureStreak(14, NOW.timestamp(), "boom"), 14)[0] == STOPPED

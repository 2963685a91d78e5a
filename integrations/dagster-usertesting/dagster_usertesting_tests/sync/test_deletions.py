"""Which unlisted sessions are removed: only on a consistent walk, and a large share only twice."""

from datetime import UTC, datetime, timedelta

from dagster_usertesting.lib.sync.deletions import DeletionPolicy, decide_deletions
from dagster_usertesting.lib.sync.walk import COMPLETE, WalkVerdict

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = DeletionPolicy(max_share=0.10, max_sessions=50, confirm_hours=6)
HELD = {f"s{i:03}" for i in range(100)}


def test_an_inconclusive_walk_removes_nothing_and_keeps_what_waited():
    waiting = {"s001": NOW - timedelta(hours=10)}
    decision = decide_deletions(HELD, set(), WalkVerdict.incomplete("empty page"), waiting, NOW, POLICY)
    assert decision.delete == set()
    assert decision.awaiting == waiting
    assert "empty page" in decision.note


def test_a_small_share_goes_on_one_consistent_walk():
    listed = HELD - {"s001", "s002"}
    assert decide_deletions(HELD, listed, COMPLETE, {}, NOW, POLICY).delete == {"s001", "s002"}


def test_the_allowance_is_a_share_capped_by_a_number_and_at_least_one():
    assert POLICY.allowance(100) == 10
    assert POLICY.allowance(10_000) == 50
    assert POLICY.allowance(8) == 1
    listed = HELD - {f"s{i:03}" for i in range(10)}
    assert len(decide_deletions(HELD, listed, COMPLETE, {}, NOW, POLICY).delete) == 10
    listed = HELD - {f"s{i:03}" for i in range(11)}
    assert decide_deletions(HELD, listed, COMPLETE, {}, NOW, POLICY).delete == set()


def test_a_walk_listing_nothing_removes_nothing_at_first():
    # Seen: one `200 {"sessions": [], totalCount: 0}` wiped a 30-session test.
    decision = decide_deletions(HELD, set(), COMPLETE, {}, NOW, POLICY)
    assert decision.delete == set()
    assert set(decision.awaiting) == HELD
    assert all(t == NOW for t in decision.awaiting.values())
    assert "kept" in decision.note


def test_a_large_removal_goes_when_a_walk_at_least_the_confirm_time_later_agrees():
    first = decide_deletions(HELD, set(), COMPLETE, {}, NOW, POLICY)
    too_soon = decide_deletions(HELD, set(), COMPLETE, first.awaiting, NOW + timedelta(hours=5), POLICY)
    assert too_soon.delete == set()
    assert too_soon.awaiting == first.awaiting  # still counted from the first walk
    later = decide_deletions(HELD, set(), COMPLETE, first.awaiting, NOW + timedelta(hours=6), POLICY)
    assert later.delete == HELD
    assert later.awaiting == {}


def test_a_session_listed_again_is_no_longer_waiting():
    first = decide_deletions(HELD, set(), COMPLETE, {}, NOW, POLICY)
    back = decide_deletions(HELD, HELD, COMPLETE, first.awaiting, NOW + timedelta(hours=7), POLICY)
    assert back.delete == set() and back.awaiting == {}


def test_sessions_newly_unlisted_are_timed_from_their_own_first_absence():
    gone_long = {f"s{i:03}" for i in range(20)}
    gone_now = {f"s{i:03}" for i in range(20, 40)}
    awaiting = {s: NOW - timedelta(hours=7) for s in gone_long}
    decision = decide_deletions(HELD, HELD - gone_long - gone_now, COMPLETE, awaiting, NOW, POLICY)
    assert decision.delete == gone_long
    assert set(decision.awaiting) == gone_now
    assert all(t == NOW for t in decision.awaiting.values())

"""The pure rules that decide what a sync asks for and what it writes."""

from datetime import UTC, datetime, timedelta

from dagster_usertesting.lib.sync.walk import PageSeen
from dagster_usertesting.lib.sync_policy import (
    listing_stop,
    reconcile_due,
    table_changes,
    transcript_recheck_due,
    transcript_settled,
)
from dagster_usertesting.lib.usertesting_api.paging import ListingProgress

REACHABLE_SESSIONS = 10_500  # offset paging with pages of 500


def _progress(total: int, seen: list[str], unreachable: int = 0) -> ListingProgress:
    progress = ListingProgress("t", total, 1, {s: {} for s in seen}, 0, unreachable)
    progress.pages_seen.append(PageSeen(0, 500, min(500, len(seen)), min(500, len(seen)), total))
    return progress


def test_unchanged_listing_stops_after_the_first_page():
    held = {f"s{i}" for i in range(600)}
    stop = listing_stop(held, reconcile=False)
    assert stop(_progress(600, [f"s{i}" for i in range(500)]))
    assert stop.stopped_early


def test_a_total_below_what_we_hold_walks_every_page_and_finds_deletions():
    # 600 held, 10 deleted upstream, 2 new: a count-based stop would stop after page 1 and miss
    # late arrivals further down; the total below what we hold proves deletions, so walk on.
    held = {f"s{i}" for i in range(600)}
    stop = listing_stop(held, reconcile=False)
    page_one = ["n1", "n2", *[f"s{i}" for i in range(498)]]
    assert not stop(_progress(592, page_one))
    listed = page_one + [f"s{i}" for i in range(498, 590)]
    assert not stop(_progress(592, listed))


def test_a_test_beyond_paging_reach_stops_once_everything_reachable_is_held():
    held = {f"s{i}" for i in range(REACHABLE_SESSIONS)}
    stop = listing_stop(held, reconcile=False)
    assert stop(_progress(REACHABLE_SESSIONS + 100, [f"s{i}" for i in range(500)]))


def test_the_reach_is_that_of_the_page_size_the_server_serves():
    # Pages capped at 100 reach 10,100 sessions, not 10,500: holding 10,100 of 10,300 is all there is.
    held = {f"s{i}" for i in range(10_100)}
    progress = _progress(10_300, [f"s{i}" for i in range(100)])
    progress.pages_seen[0] = PageSeen(0, 500, 100, 100, 10_300)
    assert listing_stop(held, reconcile=False)(progress)
    # One fewer held, and not one of those the page showed: an unseen session may be left.
    assert not listing_stop(held - {"s10099"}, reconcile=False)(progress)


def test_reconcile_is_due_when_never_done_or_older_than_the_setting():
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert reconcile_due(None, now, 24)
    assert reconcile_due((now - timedelta(hours=25)).isoformat(), now, 24)
    assert not reconcile_due((now - timedelta(hours=23)).isoformat(), now, 24)


def test_reconcile_is_due_at_once_for_a_suspect_session_and_when_a_removal_can_be_confirmed():
    now = datetime(2026, 1, 2, tzinfo=UTC)
    recent = (now - timedelta(hours=1)).isoformat()
    assert reconcile_due(recent, now, 24, suspects=True)  # only a walk can tell whether a 404 is gone
    assert reconcile_due(recent, now, 24, now - timedelta(hours=6), confirm_hours=6)
    assert not reconcile_due(recent, now, 24, now - timedelta(hours=5), confirm_hours=6)


def test_table_changes_write_new_and_changed_sessions_and_delete_only_sessions_removed_upstream():
    t = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(3)]
    loaded = {"a": t[0], "b": t[0], "d": t[0], "e": t[0]}
    changes = table_changes({"a": t[0], "b": t[1], "c": t[2]}, loaded, deleted={"d"})
    assert changes.write == {"b", "c"}
    assert changes.delete == {"d"}
    # "e" is in the warehouse but not landed (a lost landing area): kept, and reported.
    assert changes.unexplained == {"e"}
    assert changes.sessions == {"b", "c", "d"}


def test_a_transcript_asked_within_its_window_is_settled_once_the_window_is_over():
    # A test synced from its start asks within the window and stops asking at its end; judging by
    # the last 404's time, no session would ever count as settled and surveys would cost requests forever.
    finished = datetime(2026, 1, 1, tzinfo=UTC)
    asked = [finished + timedelta(hours=h) for h in (63, 31, 15, 7, 3, 1)]
    assert not transcript_settled(asked, finished, finished + timedelta(hours=71), 72)
    assert transcript_settled(asked, finished, finished + timedelta(hours=73), 72)
    assert not transcript_settled([], finished, finished + timedelta(hours=73), 72)


def test_a_missing_transcript_is_rechecked_with_doubling_spacing_until_the_window_ends():
    finished = datetime(2026, 1, 1, tzinfo=UTC)
    asked = [finished + timedelta(hours=3), finished + timedelta(hours=1)]
    assert not transcript_recheck_due(asked, finished, finished + timedelta(hours=4), (1, 72))
    assert transcript_recheck_due(asked, finished, finished + timedelta(hours=5), (1, 72))
    assert not transcript_recheck_due(asked, finished, finished + timedelta(hours=73), (1, 72))

"""Does a test need a sync? One listing request (its first page) compared with what is landed.

"New" means not landed in `session_details`, not "absent from the stored listing": sessions that a
failed run listed before their details landed still count. A session that keeps failing is a
reason only when its retry is due: one backing off or quarantined (lib/sync/retries.py) starts no run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing, Listing, utc_now
from dagster_usertesting.lib.normalize import parse_api_time
from dagster_usertesting.lib.sync.deletions import DeletionPolicy
from dagster_usertesting.lib.sync.listing_head import ListingHead
from dagster_usertesting.lib.sync.retries import RetryPolicy, waiting_of
from dagster_usertesting.lib.sync.state import DETAILS, SyncState
from dagster_usertesting.lib.usertesting_api.client import ListingProbe, UserTestingClient


@dataclass(frozen=True)
class SyncNeed:
    reason: str | None  # None: nothing to sync
    newest_finish: float | None  # epoch seconds of the newest listed session, for the probe schedule
    head: ListingHead | None = None  # the page the probe was served, for the sync it starts


def sync_need(
    landing: Landing,
    client: UserTestingClient,
    test_id: TestId,
    retry: RetryPolicy | None = None,
    deletions: DeletionPolicy | None = None,
    clips: bool = True,
) -> SyncNeed:
    asked_at = utc_now()
    probe = client.probe_listing(
        test_id, whole_page=True
    )  # first, so a test the API refuses fails before any work
    listing = landing.read_listing(test_id)
    landed = {
        session_id
        for session_id, objects in landing.latest_by_session(test_id, "session_details").items()
        if any(o.kind == "json" for o in objects)
    }
    failures = SyncState(landing, test_id).failures(DETAILS)
    # Backing off or quarantined: not a reason for a run until their retry is due.
    now = utc_now()
    handled = landed | waiting_of(failures, failures.keys(), now, retry or RetryPolicy())
    reason = (
        sync_reason(listing, handled, probe)
        or confirmation_due(listing, now, deletions or DeletionPolicy())
        or (clips_settle_due(landing.read_state(test_id, "clips"), now) if clips else None)
    )
    head = None if probe.head is None else ListingHead(asked_at, client.page_size, probe.head)
    return SyncNeed(reason, newest_finish(listing), head)


def sync_reason(listing: Listing, handled: set[str], probe: ListingProbe) -> str | None:
    """Why a sync is needed, or None; `handled`: sessions landed, or failing and not due yet."""
    if listing.total_count is None:
        return "never synced"
    if probe.total_count != listing.total_count:
        return f"totalCount {listing.total_count} -> {probe.total_count}"
    if probe.newest_session_id is not None and probe.newest_session_id not in handled:
        return f"newest session {probe.newest_session_id} not landed"
    pending = listing.sessions.keys() - handled
    if pending:
        return f"{len(pending)} listed sessions not landed"
    return None


def confirmation_due(listing: Listing, now: datetime, policy: DeletionPolicy) -> str | None:
    """Sessions a walk no longer listed wait for a later walk to agree: a sync is due once it may."""
    if not listing.awaiting_deletion:
        return None
    first = min(datetime.fromisoformat(t) for t in listing.awaiting_deletion.values())
    if now - first < timedelta(hours=policy.confirm_hours):
        return None
    return f"{len(listing.awaiting_deletion)} unlisted sessions wait for a walk to confirm their removal"


def clips_settle_due(state: dict, now: datetime) -> str | None:
    """A session's clips are due by the settle policy (lib/sync/clips_policy.py): its +1 d / +7 d
    settle point passed, or a removal waits for its confirming answer."""
    due = state.get("next_due_at")
    if not isinstance(due, str):
        return None
    try:
        moment = datetime.fromisoformat(due)
    except ValueError:
        return None
    return f"clips due since {moment.isoformat(timespec='minutes')}" if now >= moment else None


def newest_finish(listing: Listing) -> float | None:
    times = (parse_api_time(s.get("finishTime") or s.get("startTime")) for s in listing.sessions.values())
    return max((t.timestamp() for t in times if t is not None), default=None)

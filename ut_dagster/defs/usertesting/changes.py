"""Does a test need a sync? One `limit=1` listing request compared with what is landed.

"New" means not landed in `session_details`, not "absent from the stored listing": sessions that a
failed run listed before their details landed still count. A session whose payload was rejected as
malformed counts as handled (a sync would only reject it again).
"""

from __future__ import annotations

from dataclasses import dataclass

from ut_dagster.lib.ids import TestId
from ut_dagster.lib.landing import Landing, Listing
from ut_dagster.lib.normalize import parse_api_time
from ut_dagster.lib.usertesting_api.client import ListingProbe, UserTestingClient

HANDLED_KINDS = ("json", "rejected.json")


@dataclass(frozen=True)
class Changes:
    reason: str | None  # None: nothing to sync
    newest_finish: float | None  # epoch seconds of the newest listed session, for the check policy


def session_changes(landing: Landing, client: UserTestingClient, test_id: TestId) -> Changes:
    probe = client.probe_listing(test_id)  # first, so a test the API refuses fails before any work
    listing = landing.read_listing(test_id)
    handled = {
        session_id
        for session_id, objects in landing.latest_by_session(test_id, "session_details").items()
        if any(o.kind in HANDLED_KINDS for o in objects)
    }
    return Changes(sync_reason(listing, handled, probe), newest_finish(listing))


def sync_reason(listing: Listing, handled: set[str], probe: ListingProbe) -> str | None:
    """Why a sync is needed, or None; `handled`: sessions whose details landed (or were rejected)."""
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


def newest_finish(listing: Listing) -> float | None:
    times = (parse_api_time(s.get("finishTime") or s.get("startTime")) for s in listing.sessions.values())
    return max((t.timestamp() for t in times if t is not None), default=None)

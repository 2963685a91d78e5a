"""The listing step of a test's sync: page, land each page, decide deletions, say what to write.

Pages are landed as they arrive (a killed walk keeps what it paid for). Sessions leave the listing
only by `decide_deletions` over a consistent walk; the warehouse is compared with what landed, not
with a memory of earlier writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing, Listing, utc_now
from dagster_usertesting.lib.normalize import listing_rows, parse_api_time
from dagster_usertesting.lib.schema import RAW_SESSIONS
from dagster_usertesting.lib.sync.deletions import DeletionDecision, DeletionPolicy, decide_deletions
from dagster_usertesting.lib.sync.listing_head import read_head, usable_head
from dagster_usertesting.lib.sync.state import DETAILS, SyncState
from dagster_usertesting.lib.sync_policy import TableChanges, listing_stop, reconcile_due, table_changes
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.paging import ListingProgress
from dagster_usertesting.lib.warehouse import WarehouseClient


@dataclass(frozen=True)
class ListingOptions:
    reconcile_hours: float
    deletions: DeletionPolicy
    full: bool = False
    reconcile: bool = False
    rebuild: bool = False
    listing_head: str | None = None  # the probe page the run was started with (listing_head.py)


@dataclass(frozen=True)
class ListingResult:
    listing: Listing
    progress: ListingProgress
    walked_all: bool
    decision: DeletionDecision
    changes: TableChanges
    rows: list[dict[str, Any]]
    current: dict[str, datetime]  # session -> the version the warehouse should hold
    new_sessions: int
    held_before: int


def sync_listing(
    test_id: TestId,
    client: UserTestingClient,
    landing: Landing,
    warehouse: WarehouseClient,
    options: ListingOptions,
) -> ListingResult:
    started = utc_now()
    listing = landing.read_listing(test_id)
    held = set(listing.sessions)
    awaiting = {s: datetime.fromisoformat(t) for s, t in listing.awaiting_deletion.items()}
    suspects = any(f.not_found for f in SyncState(landing, test_id).failures(DETAILS).values())
    walk_all = (
        options.full
        or options.reconcile
        or reconcile_due(
            listing.reconciled_at,
            started,
            options.reconcile_hours,
            min(awaiting.values(), default=None),
            options.deletions.confirm_hours,
            suspects,
        )
    )
    stop = listing_stop(held, walk_all)
    # Read only for a run a probe started: the others would spend a read on a page they cannot use.
    landed_head = read_head(landing, test_id) if options.listing_head else None
    head = usable_head(landed_head, options.listing_head, started, client.page_size, len(held), walk_all)
    # A walk that may remove sessions does not take the count's word for where the listing ends.
    pages = client.list_sessions(
        test_id, stop_when=stop, confirm_end=walk_all and bool(held), first_page=head
    )
    for page in pages.pages():
        listed_at = utc_now().isoformat()
        for session in page:
            session_id = session["sessionId"]
            previous = listing.sessions.get(session_id)
            # A session seen again unchanged keeps its row: rewriting it would cost warehouse work.
            if previous is None or _as_served(previous) != session:
                listing.sessions[session_id] = {**session, "_listed_at": listed_at}
            listing.deleted.pop(session_id, None)  # listed again: it was not gone after all
        listing.total_count = pages.progress.total_count
        landing.write_listing(listing)  # landed before the next page is asked for

    progress = pages.progress
    verdict = progress.verdict()
    decision = decide_deletions(held, progress.seen.keys(), verdict, awaiting, started, options.deletions)
    for session_id in decision.delete:
        del listing.sessions[session_id]
        listing.deleted[session_id] = started.isoformat()
    listing.awaiting_deletion = {s: t.isoformat() for s, t in decision.awaiting.items()}
    if verdict.complete:
        listing.reconciled_at = started.isoformat()
    landing.write_listing(listing)

    current = {sid: parse_api_time(s["_listed_at"]) or started for sid, s in listing.sessions.items()}
    loaded = warehouse.session_versions(RAW_SESSIONS, test_id)
    changes = table_changes(current, loaded, listing.deleted.keys())
    written = current.keys() if options.rebuild else changes.write
    rows = [
        row
        for sid in written
        for row in listing_rows(test_id, [_as_served(listing.sessions[sid])], current[sid])
    ]
    return ListingResult(
        listing=listing,
        progress=progress,
        walked_all=verdict.complete,
        decision=decision,
        changes=changes,
        rows=rows,
        current=current,
        new_sessions=len(listing.sessions.keys() - held),
        held_before=len(held),
    )


def _as_served(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "_listed_at"}

"""What a sync asks the API for and what it writes: pure decisions, no I/O.

Every request costs a tenth of a minute's budget, so these rules decide, from what is already
landed, the least a sync must ask for; and, from what the warehouse holds, the least it must write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ut_dagster.lib.usertesting_api.paging import MAX_OFFSET, MAX_PAGE_SIZE, ListingProgress

# Offset paging ends at offset 10,000: with 500 a page, the newest 10,500 sessions are reachable.
REACHABLE_SESSIONS = MAX_OFFSET + MAX_PAGE_SIZE


@dataclass
class ListingStop:
    """When an incremental listing may stop paging, and whether it had to walk every page.

    The listing is newest first but not documented as sorted by finishTime, so a finishTime
    checkpoint would lose late arrivals and ties. Counting instead: once the sessions held plus those
    seen reach totalCount, no unseen session is left. That only holds while nothing was deleted
    upstream: when totalCount drops below what we hold, sessions were deleted and the count proves
    nothing, so the whole listing is walked and reconciled. Sessions beyond offset paging's reach
    cannot be seen: for a test that big, reaching what paging can reach is enough.
    """

    held: set[str]
    walk_all: bool = False
    stopped_early: bool = field(default=False, init=False)

    def __call__(self, progress: ListingProgress) -> bool:
        total = progress.total_count or 0
        if self.walk_all or total < len(self.held):
            self.walk_all = True
            return False
        accounted = len(self.held | progress.seen.keys())
        self.stopped_early = accounted >= min(total, REACHABLE_SESSIONS)
        return self.stopped_early


def listing_stop(held: set[str], reconcile: bool) -> ListingStop:
    return ListingStop(set(held), walk_all=reconcile)


def reconcile_due(reconciled_at: str | None, now: datetime, every_hours: float) -> bool:
    """Whether a test's whole listing should be walked now to find sessions deleted upstream."""
    if reconciled_at is None:
        return True
    return now - datetime.fromisoformat(reconciled_at) >= timedelta(hours=every_hours)


def deleted_upstream(held: set[str], progress: ListingProgress, stop: ListingStop) -> set[str]:
    """Sessions held but no longer listed: known only after a walk that saw every session."""
    if stop.stopped_early or progress.unreachable:
        return set()
    return held - progress.seen.keys()


@dataclass(frozen=True)
class TableChanges:
    """Sessions whose rows must be (re)written, and sessions whose rows must go."""

    write: frozenset[str]
    delete: frozenset[str]

    @property
    def sessions(self) -> frozenset[str]:
        return self.write | self.delete


def table_changes(current: Mapping[str, str], loaded: Mapping[str, str]) -> TableChanges:
    """Compare what should be in the warehouse (session -> version) with what a write committed."""
    write = frozenset(s for s, version in current.items() if loaded.get(s) != version)
    return TableChanges(write, frozenset(loaded.keys() - current.keys()))


# Product types (legacy v1 `productType`) whose sessions have no narration to transcribe: the spec
# describes NON_THINK_OUT_LOUD as "unmoderated without think-aloud"; surveys have no recording at all.
# Other or unknown types are probed instead (see `no_transcript_probe`).
WITHOUT_TRANSCRIPTS = frozenset({"NON_THINK_OUT_LOUD", "SURVEY"})


def transcript_settled(
    asked_missing: list[datetime], finished_at: datetime | None, now: datetime, wait_hours: float
) -> bool:
    """Asked (newest answer first), never found, and the wait window is over: no transcript will come.

    Judged by the window, not by when the last 404 arrived: re-asks stop at the window's end, so a
    test synced from its start would otherwise never count a session as settled.
    """
    if not asked_missing:
        return False
    since = finished_at if finished_at is not None else asked_missing[-1]
    return now - since > timedelta(hours=wait_hours)


def transcript_recheck_due(
    asked_missing: list[datetime], finished_at: datetime | None, now: datetime, spacing: tuple[float, float]
) -> bool:
    """Whether a missing transcript (404s newest first) is asked again now: doubling spacing from
    `first_hours`, until `wait_hours` after the session finished (transcripts can arrive late)."""
    first_hours, wait_hours = spacing
    since = finished_at if finished_at is not None else asked_missing[-1]
    if now - since > timedelta(hours=wait_hours):
        return False
    return now - asked_missing[0] >= timedelta(hours=first_hours) * 2 ** (len(asked_missing) - 1)


def consecutive_failures_exceeded(failures_in_a_row: int, limit: int = 3) -> bool:
    """Sessions failing one after another mean the API is down, not that the sessions are bad."""
    return failures_in_a_row >= limit

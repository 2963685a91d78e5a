"""What a sync asks the API for and what it writes: pure decisions, no I/O.

Every request costs a tenth of a minute's budget, so these rules decide, from what is already
landed, the least a sync must ask for; and, from what the warehouse holds, the least it must write.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dagster_usertesting.lib.sync.walk import reach
from dagster_usertesting.lib.usertesting_api.paging import MAX_OFFSET, ListingProgress


@dataclass
class ListingStop:
    """When an incremental listing may stop paging, and whether it had to walk every page.

    The listing is newest first but not documented as sorted by finishTime, so a finishTime
    checkpoint would lose late arrivals and ties. Counting instead: once the sessions held plus those
    seen reach totalCount, no unseen session is left. That only holds while nothing was deleted
    upstream: when totalCount drops below what we hold, sessions were deleted and the count proves
    nothing, so the whole listing is walked and reconciled. Sessions beyond offset paging's reach
    (with the page size the server serves) cannot be seen: for a test that big, reaching what paging
    can reach is enough.
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
        self.stopped_early = accounted >= min(total, reach(progress.page_size_served, MAX_OFFSET))
        return self.stopped_early


def listing_stop(held: set[str], reconcile: bool) -> ListingStop:
    return ListingStop(set(held), walk_all=reconcile)


def reconcile_due(
    reconciled_at: str | None,
    now: datetime,
    every_hours: float,
    awaiting_since: datetime | None = None,
    confirm_hours: float = 0.0,
    suspects: bool = False,
) -> bool:
    """Whether a test's whole listing should be walked now.

    Every `every_hours` to find sessions deleted upstream; sooner when a session answered 404 while
    listed (only a walk can tell whether it is gone), or when a large removal waits for a walk at
    least `confirm_hours` after its first (`awaiting_since`).
    """
    if reconciled_at is None or suspects:
        return True
    if awaiting_since is not None and now - awaiting_since >= timedelta(hours=confirm_hours):
        return True
    return now - datetime.fromisoformat(reconciled_at) >= timedelta(hours=every_hours)


@dataclass(frozen=True)
class TableChanges:
    """Sessions whose rows must be (re)written, and sessions whose rows must go."""

    write: frozenset[str]
    delete: frozenset[str]
    unexplained: frozenset[str] = frozenset()  # in the warehouse, neither landed nor deleted: kept

    @property
    def sessions(self) -> frozenset[str]:
        return self.write | self.delete


def table_changes(
    current: Mapping[str, datetime], loaded: Mapping[str, datetime], deleted: Set[str]
) -> TableChanges:
    """Compare what should be in the warehouse (session -> version) with what it holds.

    Rows go only for sessions a deletion decision removed (`deleted`); rows of any other session
    the landing area does not hold (a lost landing area, another deployment's prefix) are kept.
    """
    write = frozenset(s for s, version in current.items() if loaded.get(s) != version)
    delete = frozenset(loaded.keys() & deleted)
    return TableChanges(write, delete, frozenset(loaded.keys() - current.keys() - deleted))


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

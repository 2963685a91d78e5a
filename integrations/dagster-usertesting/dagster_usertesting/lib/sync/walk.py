"""Was a walk of a test's listing consistent and complete? Only then may an absence mean a deletion.

APIs send empty pages, stale or shifting counts, cut-short pages and items that cannot be read. A
walk proves that an unlisted session is gone only when every page it was served adds up, on a count
that did not move, to everything the API says the test has, and every item was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PageSeen:
    """What one listing answer said, as observed (not as asked)."""

    offset: int
    limit: int  # what was asked for
    served: int  # items the server sent
    valid: int  # items with a readable sessionId
    total_count: int


@dataclass(frozen=True)
class WalkVerdict:
    complete: bool  # every session the API lists was seen: an unlisted held session is gone
    reason: str  # why not (shown in run metadata); "" when complete

    @classmethod
    def incomplete(cls, reason: str) -> WalkVerdict:
        return cls(False, reason)


COMPLETE = WalkVerdict(True, "")


def reach(page_size_served: int, max_offset: int) -> int:
    """Sessions offset paging can reach when pages hold `page_size_served` items."""
    return max_offset + page_size_served


def judge_walk(
    pages: Sequence[PageSeen], *, stopped_early: bool, distinct: int, max_offset: int
) -> WalkVerdict:
    """Whether `pages` (in the order asked) saw every session of the test.

    `distinct`: different valid session IDs seen across the pages; `stopped_early`: the walk stopped
    on purpose (an incremental sync that had seen everything new).
    """
    if stopped_early:
        return WalkVerdict.incomplete("the listing was read only up to what is new")
    if not pages:
        return WalkVerdict.incomplete("no listing page was read")
    counts = sorted({p.total_count for p in pages})
    if len(counts) > 1:
        return WalkVerdict.incomplete(f"totalCount changed during the walk ({counts})")
    total = counts[0]
    invalid = sum(p.served - p.valid for p in pages)
    if invalid:
        return WalkVerdict.incomplete(f"{invalid} listed items had no readable sessionId")
    page_size = max(p.served for p in pages)
    if total > reach(page_size, max_offset):
        return WalkVerdict.incomplete(
            f"{total} sessions are more than offset paging reaches with pages of {page_size}"
        )
    offset = 0
    for page in pages:
        if page.offset != offset:
            return WalkVerdict.incomplete(f"a page was asked at offset {page.offset}, expected {offset}")
        offset += page.served
        if offset < total and (page.served == 0 or page.served < page_size):
            what = "an empty" if page.served == 0 else f"a short ({page.served} of {page_size})"
            return WalkVerdict.incomplete(f"{what} page at offset {page.offset} before the end")
    served = sum(p.served for p in pages)
    if served != total:
        return WalkVerdict.incomplete(f"the pages served {served} sessions of totalCount {total}")
    if distinct != total:
        return WalkVerdict.incomplete(f"{distinct} different sessions seen of totalCount {total}")
    return COMPLETE

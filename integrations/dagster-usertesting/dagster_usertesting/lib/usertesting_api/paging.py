"""Paging through a test's session listing: each session once, however the list shifts meanwhile.

The listing is newest first, by offset: sessions that complete while we page push older ones onto
later pages (seen twice, kept once), and offset paging ends at 10,000. Every answer is recorded as
observed (`ListingProgress.pages`), so `lib/sync/walk.py` can judge whether the walk saw everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dagster_usertesting.lib.sync.walk import PageSeen, WalkVerdict, judge_walk, reach

log = logging.getLogger("dagster_usertesting.lib.usertesting_api")

# The listing's documented bounds: offset 0-10000, limit 1-500, so paging reaches ~10,500 sessions.
MAX_OFFSET = 10_000
MAX_PAGE_SIZE = 500
# The smallest page cap any doc page mentions: a first page at least this full may be a capped one.
SMALLEST_DOCUMENTED_CAP = 100


@dataclass(frozen=True)
class ListingPage:
    """One page of a test's listing: its sessions with valid IDs, and what the server said."""

    sessions: list[dict[str, Any]]
    total_count: int
    served: int  # items the server sent, valid or not: paging advances by this


# (limit, offset) -> that page of one test's listing.
FetchPage = Callable[[int, int], ListingPage]


@dataclass
class ListingProgress:
    """What a listing has seen so far; `stop_when` predicates look at it after every page."""

    test_id: str
    total_count: int | None = None
    pages: int = 0
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    unreachable: int = 0  # sessions beyond what offset paging can reach
    pages_seen: list[PageSeen] = field(default_factory=list)
    stopped_early: bool = False  # `stop_when` ended the walk: it did not try to see every session
    capped: bool = False  # more pages than the counts allow: the walk was ended, inconclusive
    handed_first_page: bool = False  # page 1 was the sensor's probe answer, not asked by this walk

    @property
    def page_size_served(self) -> int:
        return max((p.served for p in self.pages_seen), default=0)

    def verdict(self) -> WalkVerdict:
        """Whether this walk saw every session the API lists (see lib/sync/walk.py)."""
        if self.capped:
            return WalkVerdict.incomplete(f"ended after {self.pages} pages, more than the counts allow")
        if self.handed_first_page:
            # Minutes older than the rest of the walk: no evidence for a removal (lib/sync/listing_head.py).
            return WalkVerdict.incomplete(
                "its first page was the sensor's probe answer, not read by this walk"
            )
        return judge_walk(
            self.pages_seen, stopped_early=self.stopped_early, distinct=len(self.seen), max_offset=MAX_OFFSET
        )

    def page_cap(self) -> int:
        """Most pages a walk may take: what the largest count needs at the page size served, plus a few.

        Seen in the model test: a count one too high on a test gaining a session before every answer
        makes each page at the end serve one session, the count staying one ahead: paged one at a
        time, such a walk would spend the offset cap's 10,000 requests.
        """
        largest = max((p.total_count for p in self.pages_seen), default=0)
        return -(-largest // max(self.page_size_served, 1)) + 3


class SessionListing:
    """Iterates a test's sessions across pages, each once. `progress` holds counts afterwards."""

    def __init__(
        self,
        fetch_page: FetchPage,
        test_id: str,
        stop_when: Callable[[ListingProgress], bool] | None,
        page_size: int,
        confirm_end: bool = False,
        first_page: ListingPage | None = None,
    ) -> None:
        self._fetch_page = fetch_page
        self._first_page = first_page
        self._stop_when = stop_when
        self._page_size = page_size
        self._confirm_end = confirm_end
        self.progress = ListingProgress(test_id)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for page in self.pages():
            yield from page

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's sessions not seen on an earlier page (so callers can land page by page).

        `first_page`, when given, is the page at offset 0 already in hand (asked for `page_size`
        sessions): it is not asked for again."""
        progress, offset = self.progress, 0
        while True:
            if offset == 0 and self._first_page is not None:
                page, progress.handed_first_page = self._first_page, True
            else:
                page = self._fetch_page(self._page_size, offset)
            progress.pages += 1
            progress.total_count = page.total_count
            progress.pages_seen.append(
                PageSeen(offset, self._page_size, page.served, len(page.sessions), page.total_count)
            )
            new = []
            for session in page.sessions:
                if session["sessionId"] in progress.seen:
                    # Sessions that finished while we paged push older ones onto later pages.
                    progress.duplicates += 1
                    continue
                progress.seen[session["sessionId"]] = session
                new.append(session)
            self._warn_if_unreachable(progress)
            yield new
            # Advance by what was served, not by what was asked: a server that caps pages below our
            # `limit` (one doc page says 100) would otherwise make us skip sessions.
            offset += page.served
            if not page.served or offset > MAX_OFFSET:
                return
            if offset >= page.total_count and self._last_page(page.served):
                return
            if progress.pages >= progress.page_cap():
                progress.capped = True
                return
            if self._stop_when is not None and self._stop_when(progress):
                progress.stopped_early = True
                return

    def _last_page(self, served: int) -> bool:
        """At the count: is a page of `served` items the end, or may the count be stale?

        Seen: a totalCount 100 too low on a 600-session test. When the walk's absences may remove
        sessions (`confirm_end`), a page as full as the server serves pages (its cap may be below our
        `limit`: one doc page says 100) may have more behind it, so one more page is asked rather than
        the count believed; a page smaller than that ends it.
        """
        if not self._confirm_end:
            return True
        earlier = [p.served for p in self.progress.pages_seen[:-1]]
        if earlier:
            return served < max(earlier)
        return served < min(self._page_size, SMALLEST_DOCUMENTED_CAP)

    def _warn_if_unreachable(self, progress: ListingProgress) -> None:
        # The reach of the page size the server serves, not the one we ask for: a server capping
        # pages at 100 reaches 10,100 sessions, not 10,500.
        reachable = reach(progress.page_size_served, MAX_OFFSET)
        unreachable = max(0, (progress.total_count or 0) - reachable)
        if unreachable > progress.unreachable:
            progress.unreachable = unreachable
            log.warning(
                "Test %s has %d sessions, but the API's offset paging reaches only the newest %d: "
                "%d older sessions cannot be listed. Sessions landed by earlier syncs are kept.",
                progress.test_id,
                progress.total_count,
                reachable,
                progress.unreachable,
            )

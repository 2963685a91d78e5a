"""The sensor's probe answer, handed to the sync it starts, so the sync does not ask for it again.

A probe (defs/usertesting/sync_need.py) asks for the first page of a test's listing: one request,
whether the page holds 1 session or 500. When the answer shows sessions to sync, the sensor lands
the page here and names it in the run it requests, and the run's listing step starts from it
instead of asking again. That is one request fewer per sensor-started sync, ~1,650 a day at
docs/scale.md's scale, which probes spend instead.

`usable_head` decides when the page may stand in for the walk's first answer. A walk that started
from it is no evidence for a removal (paging.py's verdict says so), so deletions still wait for a
walk that asked every page itself. The cost: sessions finishing between the probe and the run wait
for the next probe (minutes for a test fielding now), and a removal upstream in a one-page test
reaches the warehouse at the next reconcile walk instead of the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.usertesting_api.paging import ListingPage

HEAD_STATE = "listing_head"
# Older than this, the run lists afresh: a run that waited long in the queue would otherwise miss
# every session that finished meanwhile until the next probe.
MAX_AGE = timedelta(minutes=15)


@dataclass(frozen=True)
class ListingHead:
    """A probe's first page of a test's listing, as served, and when and how it was asked."""

    fetched_at: datetime
    limit: int  # the page size asked for: the walk's next offsets depend on it
    page: ListingPage

    def to_state(self) -> dict[str, Any]:
        return {
            "fetched_at": self.fetched_at.isoformat(),
            "limit": self.limit,
            "total_count": self.page.total_count,
            "served": self.page.served,
            "sessions": self.page.sessions,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ListingHead | None:
        """None for anything but a whole record: a damaged head only costs the request it saved."""
        try:
            fetched_at = datetime.fromisoformat(state["fetched_at"])
            page = ListingPage(
                sessions=list(state["sessions"]),
                total_count=int(state["total_count"]),
                served=int(state["served"]),
            )
            return cls(fetched_at, int(state["limit"]), page)
        except (KeyError, TypeError, ValueError):
            return None


def land_head(landing: Landing, test_id: TestId, head: ListingHead) -> str:
    """Land the probe's page; returns the name a run carries to use it (its fetch time)."""
    landing.write_state(test_id, HEAD_STATE, head.to_state())
    return head.fetched_at.isoformat()


def read_head(landing: Landing, test_id: TestId) -> ListingHead | None:
    return ListingHead.from_state(landing.read_state(test_id, HEAD_STATE))


def usable_head(
    head: ListingHead | None,
    named: str | None,
    now: datetime,
    page_size: int,
    held: int,
    walk_all: bool,
    max_age: timedelta = MAX_AGE,
) -> ListingPage | None:
    """The page a sync may take as its listing's first answer, or None to ask the API.

    `named`: the head the run was started with (None: the run was not started by a probe);
    `held`: sessions the test's listing holds; `walk_all`: the walk may remove sessions.
    """
    if head is None or named is None or walk_all:
        return None
    if head.fetched_at.isoformat() != named:  # a later probe's page: not what the run was started for
        return None
    if head.limit != page_size:  # the next page's offset would not follow on
        return None
    if not timedelta(0) <= now - head.fetched_at <= max_age:
        return None
    if head.page.total_count < held:  # fewer than we hold: a walk must see for itself what went
        return None
    return head.page

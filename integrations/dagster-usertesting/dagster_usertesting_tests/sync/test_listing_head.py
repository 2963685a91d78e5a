"""When may a sync take the sensor's probe page as its listing's first answer, and what may it prove?"""

from datetime import UTC, datetime, timedelta

import pytest

from dagster_usertesting.lib.sync.listing_head import MAX_AGE, ListingHead, usable_head
from dagster_usertesting.lib.usertesting_api.paging import ListingPage, SessionListing

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PAGE_SIZE = 500


def _sessions(n: int, start: int = 0) -> list[dict]:
    return [{"sessionId": f"s{i}"} for i in range(start, start + n)]


def _head(total: int = 3, age: timedelta = timedelta(minutes=1), limit: int = PAGE_SIZE) -> ListingHead:
    page = ListingPage(sessions=_sessions(min(total, limit)), total_count=total, served=min(total, limit))
    return ListingHead(NOW - age, limit, page)


def _usable(head: ListingHead | None, named: str | None = "", held: int = 1, walk_all: bool = False, **kw):
    named = head.fetched_at.isoformat() if named == "" and head is not None else named
    return usable_head(head, named, NOW, PAGE_SIZE, held, walk_all, **kw)


def test_a_fresh_page_the_run_was_started_with_stands_in_for_the_first_request():
    head = _head()
    assert _usable(head) is head.page


@pytest.mark.parametrize(
    "head, named, held, walk_all, why",
    [
        (None, None, 1, False, "no probe page landed"),
        (_head(), None, 1, False, "the run was not started by a probe (CLI, schedule, UI)"),
        (_head(), (NOW - timedelta(minutes=3)).isoformat(), 1, False, "a later probe's page"),
        (_head(), "", 1, True, "a walk that may remove sessions asks every page itself"),
        (_head(age=MAX_AGE + timedelta(seconds=1)), "", 1, False, "older than the bound"),
        (_head(age=-timedelta(minutes=1)), "", 1, False, "from the future: a clock moved"),
        (_head(limit=100), "", 1, False, "another page size: offsets would not follow on"),
        (_head(total=3), "", 4, False, "fewer than held: sessions went, a walk must see which"),
    ],
)
def test_the_api_is_asked_instead(head, named, held, walk_all, why):
    assert _usable(head, named, held, walk_all) is None, why


def test_the_age_bound_is_inclusive_and_configurable():
    assert _usable(_head(age=MAX_AGE)) is not None
    assert _usable(_head(age=timedelta(minutes=2)), max_age=timedelta(minutes=1)) is None


def test_a_damaged_landed_head_is_ignored_not_fatal():
    assert ListingHead.from_state({}) is None
    assert (
        ListingHead.from_state({"fetched_at": "yesterday", "limit": 1, "total_count": 1, "served": 1}) is None
    )
    head = _head()
    assert ListingHead.from_state(head.to_state()) == head


def _walk(
    first_page: ListingPage | None, total: int, page_size: int = 2
) -> tuple[list[str], int, SessionListing]:
    asked: list[int] = []

    def fetch(limit: int, offset: int) -> ListingPage:
        asked.append(offset)
        served = _sessions(max(0, min(limit, total - offset)), offset)
        return ListingPage(sessions=served, total_count=total, served=len(served))

    listing = SessionListing(fetch, "t", None, page_size, first_page=first_page)
    seen = [s["sessionId"] for s in listing]
    return seen, len(asked), listing


def test_a_walk_from_a_handed_page_asks_only_for_the_pages_after_it_and_sees_the_same_sessions():
    fresh, asked_fresh, _ = _walk(None, total=5)
    handed, asked_handed, listing = _walk(ListingPage(_sessions(2), 5, 2), total=5)
    assert handed == fresh
    assert (asked_fresh, asked_handed) == (3, 2)
    assert listing.progress.pages == 3


def test_a_walk_from_a_handed_page_is_no_evidence_for_a_removal():
    # One page holding every session: asked by the walk, a complete walk; handed, minutes older, not.
    _, _, asked = _walk(None, total=2)
    _, _, handed = _walk(ListingPage(_sessions(2), 2, 2), total=2)
    assert asked.progress.verdict().complete
    verdict = handed.progress.verdict()
    assert not verdict.complete and "probe" in verdict.reason

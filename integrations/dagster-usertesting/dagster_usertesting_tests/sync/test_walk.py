"""Is a walk of the listing evidence that an unlisted session is gone? Each bad answer seen says no."""

import pytest

from dagster_usertesting.lib.sync.walk import PageSeen, judge_walk

MAX_OFFSET = 10_000


def _judge(pages: list[PageSeen], distinct: int | None = None, stopped_early: bool = False):
    distinct = sum(p.valid for p in pages) if distinct is None else distinct
    return judge_walk(pages, stopped_early=stopped_early, distinct=distinct, max_offset=MAX_OFFSET)


def _pages(total: int, served: list[int], limit: int = 50) -> list[PageSeen]:
    pages, offset = [], 0
    for n in served:
        pages.append(PageSeen(offset, limit, n, n, total))
        offset += n
    return pages


def test_pages_that_add_up_to_a_stable_count_are_a_complete_walk():
    assert _judge(_pages(120, [50, 50, 20])).complete
    assert _judge(_pages(100, [50, 50, 0])).complete  # the extra page after a full one: the end
    assert _judge(_pages(0, [0])).complete  # an empty test says so consistently (deletions.py caps it)


@pytest.mark.parametrize(
    "pages, why",
    [
        # A 200 with no sessions while the count says 30.
        (_pages(30, [0]), "empty"),
        # The count moved between pages (deleted between two pages of the walk).
        (
            [PageSeen(0, 50, 50, 50, 120), PageSeen(50, 50, 50, 50, 115), PageSeen(100, 50, 15, 15, 115)],
            "changed",
        ),
        # Cut short before the end: the pages do not add up to the count.
        (_pages(120, [50, 25, 20]), "short"),
        # A count 100 too low: more sessions served than counted.
        (_pages(500, [500, 100], limit=500), "served 600"),
        # The ID field renamed: items served, none readable.
        ([PageSeen(0, 50, 12, 0, 12)], "readable"),
        # Beyond offset paging's reach with the page size served.
        (_pages(10_300, [100] * 101, limit=500), "reaches"),
    ],
)
def test_a_walk_with_a_bad_answer_is_no_evidence(pages, why):
    verdict = _judge(pages)
    assert not verdict.complete
    assert why in verdict.reason


def test_a_walk_stopped_on_purpose_is_no_evidence():
    assert not _judge(_pages(3, [3]), stopped_early=True).complete


def test_sessions_seen_twice_while_the_count_held_still_are_no_evidence():
    # Every page full and adding up, but one session shown twice: one was never shown.
    assert not _judge(_pages(100, [50, 50]), distinct=99).complete


def test_a_page_asked_at_an_unexpected_offset_is_no_evidence():
    pages = [PageSeen(0, 50, 50, 50, 100), PageSeen(60, 50, 50, 50, 100)]
    assert not _judge(pages).complete


def test_a_server_capping_pages_below_the_limit_still_walks_completely():
    # Asked for 500 a page, served 100: the page size served is what counts.
    assert _judge(_pages(250, [100, 100, 50], limit=500)).complete

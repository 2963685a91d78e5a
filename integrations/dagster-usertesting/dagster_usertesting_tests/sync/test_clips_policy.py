"""The clip settle policy: which tests' reels and which sessions' clips are asked for when, and when a
clip is removed. Every boundary is pinned from both sides, so a changed comparison or constant fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dagster_usertesting.defs.sync_need import clips_settle_due
from dagster_usertesting.lib.sync.clips_policy import (
    ClipsPolicy,
    clip_table_changes,
    clips_due,
    held_clips,
    held_reels,
    next_due_at,
    reels_due,
    reels_signature,
    reels_wanted,
    study_with_clips,
    unaccounted_clips,
)

T = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = ClipsPolicy(settle_hours=(24.0, 168.0), recent_hours=72.0, confirm_hours=1.0)


def h(hours: float) -> datetime:
    return T + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("product_type", "study_type", "wanted"),
    [
        ("THINK_OUT_LOUD", "STUDYV2", True),
        ("NON_THINK_OUT_LOUD", "STUDYV2", True),
        ("LIVE_CONVERSATION", "studyv2", True),
        ("think_out_loud", None, True),
        (None, None, True),  # not known yet: one request tells
        (None, "STUDYV2", True),
        ("SURVEY", "STUDYV2", False),
        ("SURVEY", None, False),
        ("THINK_OUT_LOUD", "WEB", False),  # a classic test: the Results API serves it nothing
        ("INSIGHT_CORE", None, False),
        ("A_NEW_KIND", "STUDYV2", False),
    ],
)
def test_reels_are_asked_only_for_kinds_of_test_that_have_clips(
    product_type: str | None, study_type: str | None, wanted: bool
) -> None:
    assert reels_wanted(product_type, study_type) is wanted


@pytest.mark.parametrize(
    ("asked", "now", "changed", "expected"),
    [
        # Never asked: at the first settle point, or sooner once the reels changed after it finished.
        ((), h(23.9), None, None),
        ((), h(24), None, "first answer"),
        ((), h(500), None, "first answer"),
        ((), h(10), h(5), "first answer (reels changed)"),
        ((), h(10), h(-1), None),  # changed before the session ended: not about it
        ((), h(10), h(0), None),
        # Asked: again at each settle point passed since, once.
        ((h(24),), h(167.9), None, None),
        ((h(24),), h(168), "settle point", None),
        ((h(30), h(24)), h(168), None, "settle point"),
        ((h(169),), h(1000), None, None),
        ((h(2),), h(24), None, "settle point"),
        ((h(2),), h(23), None, None),
        # The reels changed after the last answer: recent sessions only.
        ((h(25),), h(31), h(30), "reels changed"),
        ((h(25),), h(71.9), h(30), "reels changed"),
        ((h(25),), h(72), h(30), None),
        ((h(25),), h(31), h(25), None),  # not after the last answer
        ((h(25),), h(31), h(20), None),
    ],
)
def test_when_a_session_is_asked_for_its_clips(
    asked: tuple[datetime, ...], now: datetime, changed: datetime | str | None, expected: str | None
) -> None:
    if isinstance(changed, str):  # the settle rows put the expectation third
        changed, expected = None, changed
    assert clips_due(T, list(asked), now, POLICY, reels_changed_at=changed) == expected


def test_a_removal_is_confirmed_by_an_answer_confirm_hours_later() -> None:
    asked = [h(30)]
    assert clips_due(T, asked, h(30.9), POLICY, reels_changed_at=None, awaiting_since=h(30)) is None
    assert (
        clips_due(T, asked, h(31), POLICY, reels_changed_at=None, awaiting_since=h(30)) == "confirm a removal"
    )


def test_a_session_without_a_finish_time_is_asked_once_then_on_reels_changes() -> None:
    assert clips_due(None, [], h(0), POLICY, reels_changed_at=None) == "first answer"
    assert clips_due(None, [h(1)], h(1000), POLICY, reels_changed_at=None) is None
    assert clips_due(None, [h(1)], h(3), POLICY, reels_changed_at=h(2)) == "reels changed"
    assert clips_due(None, [h(1)], h(3), POLICY, reels_changed_at=h(1)) is None


def test_other_settle_points() -> None:
    policy = ClipsPolicy(settle_hours=(2.0,), recent_hours=0.0)
    assert clips_due(T, [], h(1.9), policy, reels_changed_at=h(1)) is None  # nothing is recent
    assert clips_due(T, [], h(2), policy, reels_changed_at=None) == "first answer"
    assert clips_due(T, [h(2)], h(5000), policy, reels_changed_at=h(3)) is None
    with pytest.raises(ValueError):
        ClipsPolicy(settle_hours=())
    with pytest.raises(ValueError):
        ClipsPolicy(settle_hours=(-1.0,))


def clip(uuid: str, name: str = "A clip") -> dict[str, object]:
    return {"uuid": uuid, "name": name}


def test_a_clip_goes_only_when_two_answers_confirm_hours_apart_leave_it_out() -> None:
    a, b = clip("a"), clip("b")
    one = held_clips([(h(1), [a, b])], POLICY)
    assert set(one.clips) == {"a", "b"} and one.awaiting == {}
    left_out_once = held_clips([(h(2), [a]), (h(1), [a, b])], POLICY)
    assert set(left_out_once.clips) == {"a", "b"} and left_out_once.awaiting == {"b": h(2)}
    too_close = held_clips([(h(2.9), [a]), (h(2), [a]), (h(1), [a, b])], POLICY)
    assert set(too_close.clips) == {"a", "b"} and too_close.awaiting == {"b": h(2)}
    confirmed = held_clips([(h(3), [a]), (h(2), [a]), (h(1), [a, b])], POLICY)
    assert set(confirmed.clips) == {"a"} and confirmed.awaiting == {}
    # One answer however late is not two.
    assert set(held_clips([(h(100), [a]), (h(1), [a, b])], POLICY).clips) == {"a", "b"}


def test_a_404_is_no_answer_and_a_clip_listed_again_is_held() -> None:
    a, b = clip("a"), clip("b")
    with_404s = held_clips([(h(5), None), (h(4), None), (h(2), [a]), (h(1), [a, b])], POLICY)
    assert set(with_404s.clips) == {"a", "b"} and with_404s.awaiting == {"b": h(2)}
    back = held_clips([(h(5), [a, b]), (h(3), [a]), (h(2), [a]), (h(1), [a, b])], POLICY)
    assert set(back.clips) == {"a", "b"} and back.awaiting == {}
    assert held_clips([(h(1), None)], POLICY).clips == {}


def test_the_newest_listing_of_a_clip_is_held_and_unreadable_items_are_skipped() -> None:
    held = held_clips(
        [(h(2), [clip("a", "Renamed"), {"name": "no uuid"}, "junk"]), (h(1), [clip("a")])], POLICY
    )
    assert held.clips == {"a": clip("a", "Renamed")}
    left_out = held_clips([(h(3), []), (h(2), [clip("a", "Renamed")]), (h(1), [clip("a")])], POLICY)
    assert left_out.clips == {"a": clip("a", "Renamed")} and left_out.awaiting == {"a": h(3)}


def test_clip_rows_are_rewritten_on_a_new_answer_and_removed_only_for_answers_or_deletions() -> None:
    loaded = {"same": h(1), "newer": h(1), "emptied": h(1), "unanswered": h(1), "deleted": h(1)}
    current = {"same": h(1), "newer": h(2), "new": h(2)}
    answered = {"same", "newer", "new", "emptied", "deleted"}
    changes = clip_table_changes(current, loaded, answered, {"deleted"})
    assert changes.write == {"newer", "new", "emptied"}  # emptied: every clip removed, rows go
    assert changes.delete == {"deleted"}
    assert changes.unexplained == {"unanswered"}  # no answer landed (a lost landing area): kept


def test_reels_answers() -> None:
    body = {
        "studyWithClips": True,
        "reels": [
            {"uuid": "r1", "lastUpdatedAtMs": 5, "numClips": 3, "areAllClipsInReel": False},
            {"uuid": "r2", "lastUpdatedAtMs": 7, "numClips": 9, "areAllClipsInReel": True},
        ],
    }
    assert reels_signature(body) == reels_signature({**body, "reels": body["reels"][::-1]})
    for changed in ({"lastUpdatedAtMs": 8}, {"numClips": 10}, {"uuid": "r3"}):
        other = {**body, "reels": [body["reels"][0], {**body["reels"][1], **changed}]}
        assert reels_signature(other) != reels_signature(body)
    assert reels_signature({**body, "studyWithClips": False}) != reels_signature(body)
    assert reels_signature({"reels": None}) is None and reels_signature([]) is None
    assert unaccounted_clips(body, 7) == 2 and unaccounted_clips(body, 9) == 0
    assert unaccounted_clips({"reels": [body["reels"][0]]}, 1) is None
    assert study_with_clips(body) and not study_with_clips({**body, "studyWithClips": False})
    assert study_with_clips({"reels": []}) and study_with_clips(None)  # unreadable or unsaid: may have


def test_the_newest_answer_is_the_last_ask() -> None:
    # Asked long ago and again after both settle points: nothing more is due.
    assert clips_due(T, [h(170), h(2)], h(180), POLICY, reels_changed_at=None) is None


def test_held_clips_of_old_sessions_are_asked_again_when_the_reels_count_fewer_clips() -> None:
    asked = [h(200)]
    assert clips_due(T, asked, h(300), POLICY, reels_changed_at=h(250)) is None  # old: not recent
    due = clips_due(T, asked, h(300), POLICY, reels_changed_at=h(250), held_clip_may_be_gone=True)
    assert due == "reels count fewer clips"
    assert clips_due(T, asked, h(300), POLICY, reels_changed_at=h(150), held_clip_may_be_gone=True) is None


def test_zero_hours_are_valid_policies_and_one_answer_is_never_enough() -> None:
    ClipsPolicy(settle_hours=(0.0,), confirm_hours=0.0)
    at_once = ClipsPolicy(confirm_hours=0.0)
    a, b = clip("a"), clip("b")
    assert set(held_clips([(h(2), [a]), (h(1), [a, b])], at_once).clips) == {"a", "b"}
    assert set(held_clips([(h(2), [a]), (h(2), [a]), (h(1), [a, b])], at_once).clips) == {"a"}


def test_the_largest_all_clips_reel_counts_the_test() -> None:
    reels = [
        {"uuid": "r1", "numClips": 7, "areAllClipsInReel": True},
        {"uuid": "r2", "numClips": 9, "areAllClipsInReel": True},  # the other one lags behind
    ]
    assert unaccounted_clips({"reels": reels}, 9) == 0


def test_rows_of_a_deleted_session_are_never_unexplained() -> None:
    changes = clip_table_changes({}, {"gone": h(1)}, set(), {"gone"})
    assert changes.delete == {"gone"} and changes.unexplained == frozenset()


def test_when_a_session_is_next_due_by_the_clock() -> None:
    assert next_due_at(T, [], POLICY) == h(24)
    assert next_due_at(T, [h(30)], POLICY) == h(168)
    assert next_due_at(T, [h(168)], POLICY) is None  # settled
    assert next_due_at(T, [h(170), h(2)], POLICY) is None
    assert next_due_at(T, [h(30)], POLICY, awaiting_since=h(30)) == h(31)
    assert next_due_at(T, [h(200)], POLICY, awaiting_since=h(200)) == h(201)
    assert next_due_at(None, [h(1)], POLICY) is None
    assert next_due_at(None, [h(1)], POLICY, awaiting_since=h(1)) == h(2)
    # Every time it names, clips_due asks; a moment before, it does not.
    for asked, awaiting in (([], None), ([h(30)], None), ([h(30)], h(30))):
        due = next_due_at(T, asked, POLICY, awaiting)
        assert due is not None
        assert clips_due(T, asked, due, POLICY, reels_changed_at=None, awaiting_since=awaiting)
        early = due - timedelta(minutes=1)
        assert clips_due(T, asked, early, POLICY, reels_changed_at=None, awaiting_since=awaiting) is None


def test_the_sensor_starts_a_sync_once_clips_are_due() -> None:
    assert clips_settle_due({"next_due_at": h(24).isoformat()}, h(24)) is not None
    assert clips_settle_due({"next_due_at": h(24).isoformat()}, h(23.9)) is None
    assert clips_settle_due({"next_due_at": None}, h(1000)) is None
    assert clips_settle_due({}, h(1000)) is None
    assert clips_settle_due({"next_due_at": "not a time"}, h(1000)) is None


def test_reels_are_asked_at_most_every_reels_every_hours() -> None:
    assert reels_due(None, h(0), POLICY)
    assert not reels_due(h(0), h(5.9), POLICY)
    assert reels_due(h(0), h(6), POLICY)
    assert reels_due(h(0), h(0), ClipsPolicy(reels_every_hours=0.0))


def test_a_reel_goes_only_when_an_answer_an_hour_later_still_leaves_it_out() -> None:
    r1, r2 = {"uuid": "r1", "name": "All clips"}, {"uuid": "r2", "name": "Checkout"}
    newest, previous = (h(10), {"reels": [r1]}), (h(5), {"reels": [r1, r2]})
    reels, pending = held_reels(newest, previous, h(10), POLICY)
    assert reels == [r1, r2] and pending == {"r2"}
    assert held_reels(newest, previous, h(10.9), POLICY)[1] == {"r2"}
    assert held_reels(newest, previous, None, POLICY)[1] == {"r2"}
    assert held_reels(newest, previous, h(11), POLICY) == ([r1], set())
    assert held_reels(newest, None, None, POLICY) == ([r1], set())
    assert held_reels((h(10), {"reels": [r1, {"name": "no uuid"}, "junk"]}), None, None, POLICY)[0] == [r1]

"""When a test's highlight reels and a session's clips are asked for, and when a clip is removed: pure.

Researchers clip a session after it ends, over days, and each session's clip list is one request of
ten a minute. So:
- a test's reels (one request) are asked only when its kind can have clips: STUDYV2 tests of
  THINK_OUT_LOUD, NON_THINK_OUT_LOUD or LIVE_CONVERSATION (a test whose kind is not known yet is asked:
  one request tells), and at most every `reels_every_hours` (its last answer stands meanwhile);
- a session's clips are asked only while the reels answer says `studyWithClips`, and then only
  * once it reached its first settle point (`settle_hours[0]` after it finished), or sooner when the
    reels changed after it finished;
  * again at each later settle point it passed since it was last asked (+1 day, +7 days);
  * again when the test's reels changed (a clip made, edited or removed: a reel's lastUpdatedAtMs or
    numClips moved) after it was last asked, if it finished less than `recent_hours` ago: that is when
    researchers clip. A clip made on an older session is found at its next settle point; the all-clips
    reel's count shows what is not accounted for until then (`unaccounted_clips`), and a `full` sync
    asks every session again. When that count falls below the clips held, some were removed: the
    sessions holding clips are asked again whatever their age.
  * again `confirm_hours` after an answer stopped listing a clip, to confirm the removal.
- a clip is removed only when two answers at least `confirm_hours` apart no longer list it (one answer
  can be wrong in a way nothing sees); a 404 is no answer at all. A session deleted upstream
  (Listing.deleted) takes its clips with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dagster_usertesting.lib.sync_policy import TableChanges

# The spec's compatibility notes for every clip and reel endpoint.
CLIP_PRODUCT_TYPES = frozenset({"THINK_OUT_LOUD", "NON_THINK_OUT_LOUD", "LIVE_CONVERSATION"})
CLIP_STUDY_TYPE = "STUDYV2"


@dataclass(frozen=True)
class ClipsPolicy:
    settle_hours: tuple[float, ...] = (24.0, 168.0)  # UT_CLIPS_SETTLE_HOURS: after a session finished
    recent_hours: float = 72.0  # UT_CLIPS_RECENT_HOURS: sessions a reels change re-asks
    confirm_hours: float = 1.0  # a removal needs a second answer this much later
    reels_every_hours: float = 6.0  # a test's reels are asked at most this often (full: every sync)

    def __post_init__(self) -> None:
        if not self.settle_hours or any(h < 0 for h in self.settle_hours) or self.confirm_hours < 0:
            raise ValueError("settle_hours needs at least one point; hours cannot be negative")


def reels_wanted(product_type: str | None, study_type: str | None) -> bool:
    """Whether a test's highlight reels are asked for, by what the test list says it is (None: unknown)."""
    if study_type is not None and study_type.upper() != CLIP_STUDY_TYPE:
        return False
    return product_type is None or product_type.upper() in CLIP_PRODUCT_TYPES


def reels_due(last_asked: datetime | None, now: datetime, policy: ClipsPolicy) -> bool:
    """Whether a test's reels are asked in a sync now: at most every `reels_every_hours`, so quick
    reruns and hourly syncs do not each spend a request on what changes over days."""
    return last_asked is None or now - last_asked >= timedelta(hours=policy.reels_every_hours)


def reels_signature(body: Any) -> tuple[Any, ...] | None:
    """What of a reels answer marks a change of the test's clips; None for an unreadable answer."""
    if not isinstance(body, dict) or not isinstance(body.get("reels"), list):
        return None
    reels = sorted(
        (str(r.get("uuid")), r.get("lastUpdatedAtMs"), r.get("numClips"))
        for r in body["reels"]
        if isinstance(r, dict)
    )
    return (bool(body.get("studyWithClips")), tuple(reels))


def study_with_clips(body: Any) -> bool:
    """Whether the reels answer says the test has clips (an unreadable answer: assume it may)."""
    return not isinstance(body, dict) or body.get("studyWithClips") is not False


def unaccounted_clips(body: Any, held: int) -> int | None:
    """Clips the all-clips reel counts beyond those held (negative: held ones it no longer counts);
    None when no reel holds all the test's clips."""
    reels = body.get("reels") if isinstance(body, dict) else None
    counts = [
        r["numClips"]
        for r in reels or []
        if isinstance(r, dict)
        and r.get("areAllClipsInReel") is True
        and isinstance(r.get("numClips"), int | float)
    ]
    return int(max(counts)) - held if counts else None


def clips_due(
    finished_at: datetime | None,
    asked: Sequence[datetime],
    now: datetime,
    policy: ClipsPolicy,
    *,
    reels_changed_at: datetime | None,
    awaiting_since: datetime | None = None,
    held_clip_may_be_gone: bool = False,
) -> str | None:
    """Why a session's clips are asked for now, or None. `asked`: its answers' times, newest first
    (404s included: they were asked); `awaiting_since`: when an answer first left out a held clip;
    `held_clip_may_be_gone`: it holds clips and the reels count fewer clips than are held."""
    last = asked[0] if asked else None
    if awaiting_since is not None and now - awaiting_since >= timedelta(hours=policy.confirm_hours):
        return "confirm a removal"
    if finished_at is None:
        # No finish time to settle from: asked once, then only as reels change.
        if last is None:
            return "first answer"
        changed = reels_changed_at is not None and last < reels_changed_at
        return "reels changed" if changed else None
    points = [finished_at + timedelta(hours=h) for h in sorted(policy.settle_hours)]
    recent = now - finished_at < timedelta(hours=policy.recent_hours)
    changed_since = reels_changed_at is not None and reels_changed_at > (last or finished_at)
    if last is None:
        if now >= points[0]:
            return "first answer"
        return "first answer (reels changed)" if changed_since and recent else None
    if any(last < point <= now for point in points):
        return "settle point"
    if changed_since and recent:
        return "reels changed"
    if changed_since and held_clip_may_be_gone:
        return "reels count fewer clips"
    return None


def next_due_at(
    finished_at: datetime | None,
    asked: Sequence[datetime],
    policy: ClipsPolicy,
    awaiting_since: datetime | None = None,
) -> datetime | None:
    """When `clips_due` will next ask the session by the clock alone (reels changes aside); None:
    never. The sensor starts a sync then, so settle points are kept without a nightly schedule."""
    times = []
    if awaiting_since is not None:
        times.append(awaiting_since + timedelta(hours=policy.confirm_hours))
    if finished_at is None:
        return min(times, default=None) if asked else None
    last = asked[0] if asked else None
    points = [finished_at + timedelta(hours=h) for h in sorted(policy.settle_hours)]
    times += [p for p in points if last is None or p > last][:1]
    return min(times, default=None)


@dataclass(frozen=True)
class HeldClips:
    clips: dict[str, dict[str, Any]]  # clip UUID -> the clip as last listed
    awaiting: dict[str, datetime]  # held clips the newest answer left out -> that answer's time


def held_clips(answers: Sequence[tuple[datetime, Sequence[Any] | None]], policy: ClipsPolicy) -> HeldClips:
    """The clips a session holds after its answers (newest first; None: a 404, no evidence).

    A clip goes only when every answer after the last one listing it left it out, and those span at
    least `confirm_hours` (so at least two answers, confirm_hours apart, agree)."""
    valid = [(at, clips) for at, clips in answers if clips is not None]
    held: dict[str, dict[str, Any]] = {}
    awaiting: dict[str, datetime] = {}
    seen: set[str] = set()
    for index, (_, clips) in enumerate(valid):
        for clip in clips:
            uuid = clip.get("uuid") if isinstance(clip, dict) else None
            if not isinstance(uuid, str) or uuid in seen:
                continue  # unreadable, or an older listing of a clip a newer answer listed
            seen.add(uuid)
            if index and _confirmed(valid, index, policy):
                continue  # removed: left out by answers far enough apart
            held[uuid] = clip
            if index:
                awaiting[uuid] = valid[index - 1][0]
    return HeldClips(held, awaiting)


def _confirmed(
    valid: Sequence[tuple[datetime, Sequence[Any] | None]], index: int, policy: ClipsPolicy
) -> bool:
    """Answers 0..index-1 left the clip out: enough of them, far enough apart?"""
    first_absent, newest = valid[index - 1][0], valid[0][0]
    return index >= 2 and newest - first_absent >= timedelta(hours=policy.confirm_hours)


def held_reels(
    newest: tuple[datetime, Any],
    previous: tuple[datetime, Any] | None,
    confirmed_at: datetime | None,
    policy: ClipsPolicy,
) -> tuple[list[dict[str, Any]], set[str]]:
    """The reels held after the newest reels answer (and the one before it, landed answers change):
    a reel the newest leaves out is held, pending, until an answer at least `confirm_hours` later
    (`confirmed_at`: the latest ask, which found the answer unchanged) still leaves it out."""

    def reels_of(body: Any) -> dict[str, dict[str, Any]]:
        reels = body.get("reels") if isinstance(body, dict) else None
        return {r["uuid"]: r for r in reels or [] if isinstance(r, dict) and isinstance(r.get("uuid"), str)}

    held = reels_of(newest[1])
    if previous is None:
        return list(held.values()), set()
    confirmed = confirmed_at is not None and confirmed_at - newest[0] >= timedelta(hours=policy.confirm_hours)
    pending = {} if confirmed else {u: r for u, r in reels_of(previous[1]).items() if u not in held}
    return [*held.values(), *pending.values()], set(pending)


def clip_table_changes(
    current: Mapping[str, datetime], loaded: Mapping[str, datetime], answered: Set[str], deleted: Set[str]
) -> TableChanges:
    """Sessions whose clip rows are (re)written or removed.

    `current`: sessions holding clips -> their newest answer; `answered`: sessions with an answer
    landed (one holding no clip now replaces its rows with none); `deleted`: removed upstream."""
    write = {s for s, version in current.items() if loaded.get(s) != version}
    write |= (loaded.keys() - current.keys()) & (answered - deleted)
    delete = frozenset(loaded.keys() & deleted)
    unexplained = frozenset(loaded.keys() - current.keys() - answered - deleted)
    return TableChanges(frozenset(write), delete, unexplained)

"""Clips and highlight reels: what researchers make of a session after it has ended.

Researchers clip moments of a session video hours or days after the participant finished, rename and
describe them, delete some, and assemble highlight reels. So what the clip endpoints serve depends on
the sandbox clock (Dataset.now): each generated clip has a creation time after its session finished,
maybe an edit and a removal later, all drawn from the seed per session. Tests move the clock
(set_clock / advance_clock) and make their own changes (add_clip / edit_clip / remove_clip), which take
effect at the clock's current time.

Only STUDYV2 tests of THINK_OUT_LOUD, NON_THINK_OUT_LOUD and LIVE_CONVERSATION have clips (the spec's
compatibility notes); a test can have none at all (StudySpec.clips, set_study_clips): its reels answer
says studyWithClips false. Fields the spec leaves optional come absent or null now and then, and an
enum carries a value the spec does not list, as the real API's will one day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any

from .config import INTERACTION, LIVE_CONVERSATION, THINK_OUT_LOUD
from .content import new_uuid
from .records import SessionRecord, Study

CLIP_KINDS = frozenset({THINK_OUT_LOUD, INTERACTION, LIVE_CONVERSATION})
CLIP_NAMES = (
    "Confused by the coupon field",
    "Can't find the size chart",
    "Loves the dark mode 😍",
    "Hesitates at payment — « trop cher »",
    "Expected filters on the left",
    "配送料がわかりにくい",
    'Says "is Klarna a bank?"',
)
DESCRIPTIONS = (
    "Participant scrolls past the banner twice before noticing it.",
    "Good quote for the exec readout.",
    "Compare with session 4: same hesitation.",
    "Ça bloque ici, à revoir avec l'équipe design.",
)
LAYOUT_STREAMS, PIP_POSITIONS, PIP_STATES = (
    ("SCREEN", "CAMERA"),
    ("TOP_LEFT", "BOTTOM_RIGHT"),
    ("OPENED", "CLOSED"),
)
# An enum value the spec does not list: a client must keep it, not fail on it.
UNKNOWN_PIP_POSITION = "CENTER"
REEL_NAMES = ("All clips", "Checkout highlights")


@dataclass
class Clip:
    uuid: str
    session_id: str
    test_id: str
    versions: list[tuple[datetime, dict[str, Any]]]  # (from when, the clip as served), oldest first
    removed_at: datetime | None = None

    @property
    def created_at(self) -> datetime:
        return self.versions[0][0]

    def served(self, now: datetime) -> dict[str, Any] | None:
        """The clip as listed at `now`; None before it was made or once it was removed."""
        if now < self.created_at or (self.removed_at is not None and self.removed_at <= now):
            return None
        current = [fields for at, fields in self.versions if at <= now][-1]
        return {"uuid": self.uuid, **current}

    def events(self, now: datetime) -> list[datetime]:
        """When the clip was made, edited or removed, up to `now`."""
        times = [at for at, _ in self.versions] + ([self.removed_at] if self.removed_at else [])
        return [t for t in times if t <= now]


@dataclass
class ClipBook:
    """Every session's clips, made on first use from the seed, plus the changes tests made."""

    seed: int
    _clips: dict[str, list[Clip]] = field(default_factory=dict)  # session ID -> its clips
    _made: int = 0  # clips added by tests: each gets its own seeded UUID

    def clips(self, study: Study, record: SessionRecord, generate: bool = True) -> list[Clip]:
        if record.session_id not in self._clips:
            self._clips[record.session_id] = _generate(self.seed, study, record) if generate else []
        return self._clips[record.session_id]

    def add(self, study: Study, record: SessionRecord, at: datetime, **fields: Any) -> str:
        self._made += 1
        rng = Random(f"{self.seed}:added-clip:{self._made}")
        clip_fields = _fields(rng, record, self.seed, len(self._clips.get(record.session_id, [])))
        clip_fields.update({k: v for k, v in fields.items() if v is not None})
        clip = Clip(new_uuid(rng), record.session_id, record.test_id, [(at, clip_fields)])
        self._clips.setdefault(record.session_id, []).append(clip)
        return clip.uuid

    def find(self, record: SessionRecord, clip_uuid: str, now: datetime) -> Clip:
        for clip in self._clips.get(record.session_id, []):
            if clip.uuid == clip_uuid.lower() and clip.served(now) is not None:
                return clip
        raise KeyError(f"no clip {clip_uuid} on session {record.session_id} now")


def served_clips(clips: list[Clip], now: datetime) -> list[dict[str, Any]]:
    """The session's clips as listed at `now`, oldest first."""
    found = [(c.created_at, c.served(now)) for c in clips]
    return [served for _, served in sorted(found, key=lambda item: item[0]) if served is not None]


def video_regions(clips: list[dict[str, Any]]) -> dict[str, Any]:
    regions: dict[str, Any] = {
        "screen": {"topLeftPoint": {"x": 0, "y": 0}, "widthPx": 1920, "heightPx": 1080}
    }
    if any(c.get("hasCamera") for c in clips):
        regions["camera"] = {"topLeftPoint": {"x": 1600, "y": 840}, "widthPx": 320, "heightPx": 240}
    return regions


def reels(seed: int, study: Study, clips: list[Clip], now: datetime) -> list[dict[str, Any]]:
    """The test's highlight reels at `now`: one of all its clips, one of its first three (by creation).

    A reel changes (lastUpdatedAtMs, numClips) when one of its clips is made, edited or removed."""
    listed = sorted((c for c in clips if c.served(now) is not None), key=lambda c: c.created_at)
    if not listed:
        return []
    rng = Random(f"{seed}:reels:{study.test_id}")
    ids = [new_uuid(rng) for _ in REEL_NAMES]
    everything = [c for c in clips if c.created_at <= now]
    out = []
    for index, (reel_id, name, members) in enumerate(zip(ids, REEL_NAMES, (listed, listed[:3]), strict=True)):
        if index == 1 and len(listed) < 2:
            continue
        # Removals count too: the all-clips reel changed when a clip left it.
        touched = everything if index == 0 else members
        updated = max(t for c in touched for t in c.events(now))
        out.append(
            {
                "uuid": reel_id,
                "name": name,
                "durationMs": sum(_length(c.served(now) or {}) for c in members),
                "lastUpdatedAtMs": int(updated.timestamp() * 1000),
                "numClips": len(members),
                "areAllClipsInReel": len(members) == len(listed),
            }
        )
    return out


def _length(clip: dict[str, Any]) -> int:
    return int(clip.get("timeEndMs", 0) - clip.get("timeStartMs", 0))


def video_uuid(seed: int, session_id: str) -> str:
    return new_uuid(Random(f"{seed}:video-uuid:{session_id}"))


def _fields(rng: Random, record: SessionRecord, seed: int, index: int) -> dict[str, Any]:
    length_ms = 20 * 60_000
    if record.finish_time is not None:
        length_ms = max(60_000, int((record.finish_time - record.start_time) / timedelta(milliseconds=1)))
    start = rng.randint(0, max(0, length_ms - 65_000))
    end = start + rng.randint(4_000, 60_000)
    fields: dict[str, Any] = {
        "name": rng.choice(CLIP_NAMES) if rng.random() < 0.8 else f"Clip #{index + 1}",
        "timeStartMs": start if rng.random() < 0.95 else start + 0.5,  # `number`: not always whole
        "timeEndMs": end,
        "videoUuid": video_uuid(seed, record.session_id),
        "hasAudio": rng.random() < 0.9,
        "hasCamera": rng.random() < 0.4,
    }
    shape = rng.random()
    if shape < 0.6:
        fields["description"] = rng.choice(DESCRIPTIONS)
    elif shape < 0.75:
        fields["description"] = None
    elif shape < 0.85:
        fields["description"] = ""
    # else: no description key at all (it is optional)
    layout = rng.random()
    if layout < 0.75:
        fields["layout"] = {
            "mainStream": rng.choice(LAYOUT_STREAMS),
            "pipPosition": rng.choice(PIP_POSITIONS) if layout < 0.65 else UNKNOWN_PIP_POSITION,
            "pipState": rng.choice(PIP_STATES),
        }
    elif layout < 0.85:
        fields["layout"] = None
    return fields


def _generate(seed: int, study: Study, record: SessionRecord) -> list[Clip]:
    """The clips researchers make of a session over the days after it ended (fixed per seed).

    Session ordinal 0 of every clip test has three (one made within hours, one a day or two later,
    one removed after a while), ordinal 1 one edited after it was made; others have 0-2 at random."""
    if study.kind not in CLIP_KINDS or not record.has_video:
        return []
    rng = Random(f"{seed}:clips:{record.session_id}")
    ordinal = record.ordinal
    count = {0: 3, 1: 1}.get(ordinal, rng.choice((0, 0, 0, 1, 1, 2)))
    base = record.finish_time or record.start_time
    clips = []
    for index in range(count):
        if ordinal == 0:
            made_after = timedelta(hours=(2.0, 30.0, 5.0)[index])
        else:
            made_after = timedelta(
                hours=rng.choice((rng.uniform(0.5, 12), rng.uniform(20, 72), rng.uniform(96, 200)))
            )
        made = base + made_after
        clip = Clip(
            new_uuid(rng), record.session_id, record.test_id, [(made, _fields(rng, record, seed, index))]
        )
        if (ordinal == 1 and index == 0) or rng.random() < 0.2:
            edited = dict(clip.versions[0][1])
            edited["name"] = f"{edited['name']} (edited)"
            edited["description"] = "Renamed after the synthesis session."
            clip.versions.append((made + timedelta(hours=rng.uniform(1, 48)), edited))
        if (ordinal == 0 and index == 2) or (ordinal > 1 and rng.random() < 0.1):
            clip.removed_at = made + timedelta(
                hours=rng.uniform(60, 100) if ordinal == 0 else rng.uniform(2, 100)
            )
        clips.append(clip)
    return clips

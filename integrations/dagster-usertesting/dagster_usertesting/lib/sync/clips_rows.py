"""Rows of `highlight_reels`, `clips` and `clip_transcripts` from landed answers: pure functions.

Every field the spec marks optional may be absent or null, numbers may come fractional, and enums
may carry values the spec does not list: each becomes null or is kept as served, never an error; the
clip and the reel are also kept whole as JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence, Set
from datetime import UTC, datetime
from typing import Any

from dagster_usertesting.lib.normalize.transcripts import CUE_SEPARATOR, Cue


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _ms(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return round(value)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def reel_rows(
    test_id: str, reels: Sequence[Any], pending: Set[str], extracted_at: datetime
) -> list[dict[str, Any]]:
    """One row per readable reel (one without a uuid is skipped); `pending`: reels awaiting removal."""
    rows = []
    for reel in reels:
        if not isinstance(reel, dict) or not isinstance(reel.get("uuid"), str):
            continue
        updated = _ms(reel.get("lastUpdatedAtMs"))
        rows.append(
            {
                "test_id": test_id,
                "reel_id": reel["uuid"].lower(),
                "reel_name": _text(reel.get("name")),
                "duration_ms": _ms(reel.get("durationMs")),
                "num_clips": _ms(reel.get("numClips")),
                "are_all_clips_in_reel": _flag(reel.get("areAllClipsInReel")),
                "last_updated_at": _from_ms(updated),
                "removal_pending": reel["uuid"] in pending,
                "reel_json": json.dumps(reel, ensure_ascii=False),
                "extracted_at": extracted_at,
            }
        )
    return rows


def _from_ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None  # an out-of-range placeholder must not stop a sync


def clip_rows(
    test_id: str,
    session_id: str,
    participant_id: str | None,
    clips: Mapping[str, Mapping[str, Any]],
    awaiting: Mapping[str, datetime],
    extracted_at: datetime,
) -> list[dict[str, Any]]:
    """One row per clip the session holds (clips_policy.held_clips)."""
    rows = []
    for clip_id, clip in sorted(
        clips.items(), key=lambda item: (_ms(item[1].get("timeStartMs")) or 0, item[0])
    ):
        start, end = _ms(clip.get("timeStartMs")), _ms(clip.get("timeEndMs"))
        layout = clip.get("layout") if isinstance(clip.get("layout"), dict) else {}
        rows.append(
            {
                "test_id": test_id,
                "session_id": session_id,
                "participant_id": participant_id,
                "clip_id": clip_id.lower(),
                "clip_name": _text(clip.get("name")),
                "description": _text(clip.get("description")),
                "time_start_ms": start,
                "time_end_ms": end,
                "duration_ms": end - start if start is not None and end is not None else None,
                "has_audio": _flag(clip.get("hasAudio")),
                "has_camera": _flag(clip.get("hasCamera")),
                "video_id": _text(clip.get("videoUuid")),
                "main_stream": _text(layout.get("mainStream")),
                "pip_position": _text(layout.get("pipPosition")),
                "pip_state": _text(layout.get("pipState")),
                "removal_pending": clip_id in awaiting,
                "clip_json": json.dumps(dict(clip), ensure_ascii=False),
                "extracted_at": extracted_at,
            }
        )
    return rows


def cues_during(cues: Sequence[Cue], start_ms: int, end_ms: int) -> list[Cue]:
    """The cues that overlap [start_ms, end_ms), in transcript order: what was said during a clip.

    A cue that merely touches the clip's edge (ends at its start, starts at its end) is not in it."""
    return sorted((c for c in cues if c.start_ms < end_ms and c.end_ms > start_ms), key=lambda c: c.start_ms)


def clip_transcript_rows(
    test_id: str,
    session_id: str,
    clips: Mapping[str, Mapping[str, Any]],
    cues: Sequence[Cue] | None,
    extracted_at: datetime,
) -> list[dict[str, Any]]:
    """One row per clip with readable times: the transcript cues overlapping it, as plain text
    (null while the session has no transcript)."""
    rows = []
    for clip_id, clip in sorted(clips.items()):
        start, end = _ms(clip.get("timeStartMs")), _ms(clip.get("timeEndMs"))
        if start is None or end is None:
            continue
        during = None if cues is None else cues_during(cues, start, end)
        rows.append(
            {
                "test_id": test_id,
                "session_id": session_id,
                "clip_id": clip_id.lower(),
                "time_start_ms": start,
                "time_end_ms": end,
                "cue_count": None if during is None else len(during),
                "transcript_text": None if during is None else CUE_SEPARATOR.join(c.text for c in during),
                "extracted_at": extracted_at,
            }
        )
    return rows


def parse_clip_answer(raw: bytes) -> list[Any] | None:
    """The `clips` list of a session's clips answer; None when the answer cannot be read."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    clips = body.get("clips") if isinstance(body, dict) else None
    return clips if isinstance(clips, list) else None

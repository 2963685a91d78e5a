"""The dataset: tests, their sessions and workspaces, built from the seed, and the changes a test makes.

Payloads and transcripts are made on first use and kept (a 12,000-session test starts instantly). All
methods are thread-safe; tests read the same object the server serves from.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from . import clips as clips_
from . import content, media
from .config import INTERACTION, LIVE_CONVERSATION, TRANSCRIPT_KINDS, VIDEO_KINDS, SandboxConfig
from .content import new_uuid, to_ms
from .records import QxGroup, SessionRecord, Study, Workspace, WorkspaceStudy, api_time

# The newest generated session finishes shortly before HISTORY_END; the rest spread over HISTORY_DAYS.
HISTORY_END, HISTORY_DAYS = datetime(2024, 11, 21, 12, 0, tzinfo=UTC), 30
PERSON_NAMES = (
    ("Ana Souza", "ana.souza@example.com"),
    ("Jürgen Müller", "juergen.mueller@example.com"),
    ("Priya Raman", "priya.raman@example.com"),
    ("陈静", "chen.jing@example.com"),
    ("UT Employee", "support@usertesting.com"),
)
LEGACY_TITLES = (
    "Homepage first impressions (classic)",
    "App store listing test",
    "Pricing page — market insight",
    "Prototype navigation (web)",
)


def _study(seed: int, index: int, kind: str, title: str) -> Study:
    rng = Random(f"{seed}:study:{index}")
    interaction = kind == INTERACTION
    qx_groups = (
        (QxGroup(new_uuid(rng), "QXscore 1", 3), QxGroup(new_uuid(rng), "QXscore 2", 0))
        if interaction
        else ()
    )
    return Study(
        test_id=new_uuid(rng),
        kind=kind,
        title=title or f"{kind.replace('_', ' ').title()} test {index + 1}",
        ordered_at=to_ms(HISTORY_END - timedelta(days=HISTORY_DAYS + 2, minutes=rng.randint(0, 5000))),
        ordered_by=rng.choice(PERSON_NAMES),
        test_plan_id=new_uuid(rng),
        audience_ids=tuple(new_uuid(rng) for _ in range(rng.randint(1, 2))),
        tasks=content.task_plan(kind, rng),
        qx_groups=qx_groups,
        balanced_comparison_group=new_uuid(rng) if interaction else None,
        answer_style="sparse" if index % 2 else "dto",
    )


def build_workspaces(dataset: Dataset, legacy_studies: int) -> list[Workspace]:
    """The v1 workspaces: one holds every test plus `legacy_studies` classic studies (which the v2 API
    does not serve), one holds a few, one is empty."""
    rng = Random(f"{dataset.seed}:workspaces")
    current = [
        WorkspaceStudy(s.test_id, s.title, "STUDYV2", s.kind, s.ordered_at, s.ordered_by)
        for s in dataset.studies
    ]
    oldest = min((s.ordered_at for s in current), default=datetime(2024, 10, 1, tzinfo=UTC))
    classic = [
        WorkspaceStudy(
            new_uuid(rng),
            f"{LEGACY_TITLES[i % len(LEGACY_TITLES)]} #{i + 1}",
            rng.choice(("web", "app", "prototype")),  # lower case, as in the spec's own example
            rng.choice(("insight_core", "product_insight", "market_insight")),
            oldest - timedelta(days=i + 1, minutes=rng.randint(0, 1000)),
            rng.choice(PERSON_NAMES),
        )
        for i in range(legacy_studies)
    ]
    everything = tuple(sorted(current + classic, key=lambda s: s.ordered_at, reverse=True))
    return [
        Workspace("12345", "Research Team Workspace", new_uuid(rng), everything),
        Workspace("12346", "Design Ops", new_uuid(rng), everything[1::3]),
        Workspace("12347", "Archive", new_uuid(rng), ()),
    ]


class Dataset:
    def __init__(self, config: SandboxConfig) -> None:
        self.seed = config.seed
        self.video_size_bytes = config.video_size_bytes
        self._config = config
        self._lock = threading.RLock()
        self.studies = [_study(config.seed, i, s.kind, s.title) for i, s in enumerate(config.studies)]
        self._studies = {s.test_id: s for s in self.studies}
        rng = Random(f"{config.seed}:participants")
        self.participants = [
            new_uuid(rng) for _ in range(max(10, sum(s.sessions for s in config.studies) // 2))
        ]
        self._payloads: dict[str, dict[str, Any]] = {}
        self._transcripts: dict[str, str] = {}
        # The sandbox clock: what clips exist depends on it (clips.py). Real time unless a test sets it.
        self._frozen_at: datetime | None = None
        self._clock_offset = timedelta()
        self.reset()

    def reset(self) -> None:
        """Back to the generated data: deletions, revocations and added sessions are undone."""
        with self._lock:
            self._sessions: dict[str, SessionRecord] = {}
            self._by_test: dict[str, list[SessionRecord]] = {s.test_id: [] for s in self.studies}
            self._ordinals = dict.fromkeys(self._by_test, 0)
            self._deleted: dict[str, SessionRecord] = {}
            self._revoked: dict[str, int] = {}
            self._added = self._deletions = 0
            self._payloads.clear()
            self._transcripts.clear()
            self._clip_book = clips_.ClipBook(self.seed)
            self._with_clips = {
                s.test_id for s, spec in zip(self.studies, self._config.studies, strict=True) if spec.clips
            }
            for study, spec in zip(self.studies, self._config.studies, strict=True):
                self._generate(study, spec.sessions)
            self._generated = dict(self._ordinals)

    # -- building -------------------------------------------------------------------------------

    def _record(self, study: Study, rng: Random, finish: datetime | None, start: datetime) -> SessionRecord:
        ordinal = self._ordinals[study.test_id]
        self._ordinals[study.test_id] += 1
        transcript = study.kind in TRANSCRIPT_KINDS
        audience = None if ordinal % 7 == 4 or rng.random() < 0.05 else rng.choice(study.audience_ids)
        record = SessionRecord(
            session_id=new_uuid(rng),
            test_id=study.test_id,
            ordinal=ordinal,
            audience_id=audience,
            start_time=to_ms(start),
            finish_time=to_ms(finish) if finish else None,
            tie_rank=rng.getrandbits(32),
            has_video=study.kind in VIDEO_KINDS and ordinal % 16 != 13,  # now and then a recording failed
            has_transcript=transcript,
            transcript_available=transcript and ordinal % 12 != 9,  # a few are still being produced
        )
        self._sessions[record.session_id] = record
        self._by_test[study.test_id].append(record)
        return record

    def _duration(self, study: Study, rng: Random, ordinal: int) -> timedelta:
        if study.kind != LIVE_CONVERSATION:
            return timedelta(minutes=rng.uniform(4, 40))
        # The first interview overruns past an hour, so its transcript needs hour timestamps.
        return timedelta(minutes=rng.uniform(80, 90) if ordinal == 0 else rng.uniform(30, 75))

    def _generate(self, study: Study, count: int) -> None:
        rng = Random(f"{self.seed}:sessions:{study.test_id}")
        span = timedelta(days=HISTORY_DAYS).total_seconds()
        # Ordinals 2 (and 3 in larger tests) finish in the same millisecond as ordinal 1.
        tied = {2, 3} if count > 5 else {2} if count > 3 else set()
        tie_time = HISTORY_END
        for ordinal in range(count):
            finish = HISTORY_END - timedelta(seconds=rng.uniform(60, span), milliseconds=rng.randint(0, 999))
            if ordinal == 1:
                tie_time = finish
            finish = tie_time if ordinal in tied else finish
            start = finish - self._duration(study, rng, ordinal)
            self._record(study, rng, None if ordinal == 9 else finish, start)  # COMPLETE, no finishTime
        group = sorted(self._by_test[study.test_id][1 : 2 + len(tied)], key=lambda r: r.session_id)
        if len(group) == 3:
            # Listed middle, highest, lowest ID: a client that breaks ties by ID, either way, is caught.
            for rank, record in zip((1, 3, 2), group, strict=True):
                record.tie_rank = rank

    # -- changing what is served (also POST /_sandbox/<method>) ---------------------------------

    def add_sessions(self, test_id: str, count: int, finish_time: datetime | str | None = None) -> list[str]:
        """New COMPLETE sessions. Without finish_time they are the newest; with it, all share that time."""
        if isinstance(finish_time, str):
            finish_time = datetime.fromisoformat(finish_time.replace("Z", "+00:00"))
        if finish_time is not None and finish_time.tzinfo is None:
            finish_time = finish_time.replace(tzinfo=UTC)
        with self._lock:
            study, ids = self._require_study(test_id), []
            for _ in range(count):
                finish = finish_time
                if finish is None:
                    newest = max((r.sort_key[0] for r in self._by_test[study.test_id]), default=HISTORY_END)
                    finish = max(to_ms(self.now()), newest + timedelta(milliseconds=1))
                ids.append(self._add(study, finish))
            return ids

    def add_late_sessions(self, test_id: str, count: int, behind: int = 500) -> list[str]:
        """Sessions arriving now with an old finishTime, each listed behind `behind` newer sessions (one
        full listing page), or last when the test has fewer."""
        with self._lock:
            study, ids = self._require_study(test_id), []
            for _ in range(count):
                listed = self.sessions(study.test_id)
                if len(listed) > behind > 0:
                    finish = listed[behind - 1].sort_key[0] - timedelta(milliseconds=1)
                elif listed:
                    finish = listed[-1].sort_key[0] - timedelta(minutes=1)
                else:
                    finish = HISTORY_END - timedelta(days=HISTORY_DAYS)
                ids.append(self._add(study, finish))
            return ids

    def _add(self, study: Study, finish: datetime) -> str:
        self._added += 1
        rng = Random(f"{self.seed}:added:{self._added}")
        return self._record(study, rng, finish, finish - self._duration(study, rng, -1)).session_id

    def delete_sessions(
        self, session_ids: Collection[str] = (), test_id: str | None = None, count: int = 0
    ) -> list[str]:
        """Delete these sessions, or `count` of `test_id`'s picked by the seed: they leave the listing
        (totalCount drops); their details, transcript, video link and video answer 404."""
        with self._lock:
            chosen = [i.lower() for i in session_ids]
            if count and test_id is None:
                raise ValueError("deleting a count of sessions needs the test_id to take them from")
            if count:
                listed = self.session_ids(self._require_study(test_id or "").test_id)
                self._deletions += 1
                chosen += Random(f"{self.seed}:delete:{self._deletions}").sample(
                    listed, min(count, len(listed))
                )
            if missing := [i for i in chosen if i not in self._sessions]:
                raise KeyError(f"no session {', '.join(missing)} in the sandbox (already deleted?)")
            for session_id in chosen:
                record = self._deleted[session_id] = self._sessions.pop(session_id)
                self._by_test[record.test_id].remove(record)
            return chosen

    def restore_sessions(self, session_ids: Collection[str] = ()) -> list[str]:
        """Bring deleted sessions back (all of them when no IDs are given)."""
        with self._lock:
            chosen = [i.lower() for i in session_ids] or list(self._deleted)
            if missing := [i for i in chosen if i not in self._deleted]:
                raise KeyError(f"session {', '.join(missing)} is not deleted")
            for session_id in chosen:
                record = self._sessions[session_id] = self._deleted.pop(session_id)
                self._by_test[record.test_id].append(record)
            return chosen

    def deleted_session_ids(self, test_id: str | None = None) -> list[str]:
        with self._lock:
            return [i for i, r in self._deleted.items() if test_id is None or r.test_id == test_id.lower()]

    def revoke_test(self, test_id: str, status: int = 404) -> None:
        """Every endpoint about the test (listing, qxScores, its sessions') answers 404 or 401."""
        if status not in (401, 404):
            raise ValueError("a revoked test answers 404 or 401")
        with self._lock:
            self._revoked[self._require_study(test_id).test_id] = status

    def restore_test(self, test_id: str) -> None:
        with self._lock:
            self._revoked.pop(self._require_study(test_id).test_id, None)

    def revoked_status(self, test_id: str) -> int | None:
        with self._lock:
            return self._revoked.get(test_id.lower())

    def churn(
        self, deleted: int = 0, new: int = 0, late: int = 0, test_ids: Collection[str] | None = None
    ) -> dict[str, dict[str, list[str]]]:
        """What happens between two syncs, on each test: `deleted` go, `new` newest and `late` late
        arrivals come. Returns the IDs per test."""
        with self._lock:
            return {
                test_id: {
                    "deleted": self.delete_sessions(test_id=test_id, count=deleted),
                    "new": self.add_sessions(test_id, new),
                    "late": self.add_late_sessions(test_id, late),
                }
                for test_id in test_ids or self.test_ids
            }

    def set_transcript_available(self, session_id: str, available: bool) -> None:
        with self._lock:
            record = self._sessions[session_id.lower()]
            if available and not record.has_transcript:
                raise ValueError(f"session {session_id} is of a kind without transcripts")
            record.transcript_available = available

    # -- the clock and clips (also POST /_sandbox/<method>) ---------------------------------------

    def now(self) -> datetime:
        """The sandbox clock: real time, unless set_clock froze it; advance_clock moves it either way."""
        with self._lock:
            return (self._frozen_at or datetime.now(UTC)) + self._clock_offset

    def set_clock(self, at: datetime | str | None = None) -> str:
        """Freeze the clock at `at` (ISO 8601; naive means UTC); None: back to real time. Returns now."""
        moment = _moment(at) if at is not None else None
        with self._lock:
            self._frozen_at, self._clock_offset = moment, timedelta()
        return api_time(self.now())

    def advance_clock(self, hours: float = 0.0, minutes: float = 0.0, seconds: float = 0.0) -> str:
        """Move the clock forward (clips due by then appear, edits and removals happen). Returns now."""
        step = timedelta(hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta():
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._clock_offset += step
        return api_time(self.now())

    def set_study_clips(self, test_id: str, enabled: bool) -> None:
        """Whether researchers clip this test at all: off, it has no clips and studyWithClips is false."""
        with self._lock:
            study = self._require_study(test_id)
            (self._with_clips.add if enabled else self._with_clips.discard)(study.test_id)

    def add_clip(
        self,
        session_id: str,
        name: str | None = None,
        description: str | None = None,
        time_start_ms: int | None = None,
        time_end_ms: int | None = None,
    ) -> str:
        """A researcher clips the session now (sandbox clock); returns the clip's UUID."""
        with self._lock:
            record, study = self._clip_session(session_id)
            fields = {"name": name, "description": description}
            fields |= {"timeStartMs": time_start_ms, "timeEndMs": time_end_ms}
            self._clips_of(study, record)  # its generated clips first, so the new one joins them
            return self._clip_book.add(study, record, self.now(), **fields)

    def edit_clip(
        self,
        session_id: str,
        clip_uuid: str,
        name: str | None = None,
        description: str | None = None,
        time_start_ms: int | None = None,
        time_end_ms: int | None = None,
    ) -> None:
        """A researcher renames, re-describes or re-times a clip now (sandbox clock)."""
        with self._lock:
            record, study = self._clip_session(session_id)
            now = self.now()
            self._clips_of(study, record)
            clip = self._clip_book.find(record, clip_uuid, now)
            fields = dict(clip.versions[-1][1])
            changes = {"name": name, "description": description, "timeStartMs": time_start_ms}
            changes["timeEndMs"] = time_end_ms
            fields.update({k: v for k, v in changes.items() if v is not None})
            clip.versions.append((max(now, clip.versions[-1][0]), fields))

    def remove_clip(self, session_id: str, clip_uuid: str) -> None:
        """A researcher deletes a clip now (sandbox clock)."""
        with self._lock:
            record, study = self._clip_session(session_id)
            now = self.now()
            self._clips_of(study, record)
            self._clip_book.find(record, clip_uuid, now).removed_at = now

    def _clip_session(self, session_id: str) -> tuple[SessionRecord, Study]:
        record = self._sessions.get(session_id.lower())
        if record is None:
            raise KeyError(f"no session {session_id} in the sandbox")
        study = self._studies[record.test_id]
        if study.kind not in clips_.CLIP_KINDS or not record.has_video:
            raise ValueError(f"session {session_id} has no video to clip")
        return record, study

    def session_clips(self, session_id: str) -> dict[str, Any] | None:
        """GET .../clips as served now; None (a 404) for a session without a video to clip."""
        with self._lock:
            record = self._sessions.get(session_id.lower())
            if record is None:
                return None
            study = self._studies[record.test_id]
            if study.kind not in clips_.CLIP_KINDS or not record.has_video:
                return None
            listed = self._session_clip_list(study, record)
            return {
                "studyUuid": study.test_id,
                "clips": listed,
                "videoRegions": clips_.video_regions(listed),
            }

    def _session_clip_list(self, study: Study, record: SessionRecord) -> list[dict[str, Any]]:
        if study.test_id not in self._with_clips:
            return []
        return clips_.served_clips(self._clips_of(study, record), self.now())

    def _clips_of(self, study: Study, record: SessionRecord) -> list[clips_.Clip]:
        # Generated sessions come with generated clips; a session a test added has only those it adds.
        generated = record.ordinal < self._generated[study.test_id]
        return self._clip_book.clips(study, record, generate=generated)

    def clip_ids(self, session_id: str) -> list[str]:
        body = self.session_clips(session_id)
        return [c["uuid"] for c in body["clips"]] if body else []

    def highlight_reels(self, test_id: str) -> dict[str, Any] | None:
        """GET .../highlightreels as served now; None (a 404) for a test of a kind without clips."""
        with self._lock:
            study = self._require_study(test_id)
            if study.kind not in clips_.CLIP_KINDS:
                return None
            every: list[clips_.Clip] = []
            if study.test_id in self._with_clips:
                for record in self._by_test[study.test_id]:
                    every += self._clips_of(study, record)
            now = self.now()
            return {
                "reels": clips_.reels(self.seed, study, every, now),
                "studyWithClips": any(c.served(now) is not None for c in every),
            }

    # -- reading --------------------------------------------------------------------------------

    @property
    def test_ids(self) -> list[str]:
        return [s.test_id for s in self.studies]

    def _require_study(self, test_id: str) -> Study:
        if (study := self.study(test_id)) is None:
            raise KeyError(f"no test {test_id} in the sandbox")
        return study

    def study(self, test_id: str) -> Study | None:
        return self._studies.get(test_id.lower())

    def session(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            return self._sessions.get(session_id.lower())

    def sessions(self, test_id: str) -> list[SessionRecord]:
        """The test's COMPLETE sessions in listing order: newest first."""
        with self._lock:
            records = list(self._by_test[self._require_study(test_id).test_id])
        return sorted(records, key=lambda r: r.sort_key, reverse=True)

    def session_ids(self, test_id: str) -> list[str]:
        return [r.session_id for r in self.sessions(test_id)]

    def tie_groups(self, test_id: str) -> list[list[str]]:
        """Session IDs sharing a finishTime, in listing order."""
        groups: dict[datetime, list[str]] = {}
        for record in self.sessions(test_id):
            if record.finish_time is not None:
                groups.setdefault(record.finish_time, []).append(record.session_id)
        return [ids for ids in groups.values() if len(ids) > 1]

    def payload(self, session_id: str) -> dict[str, Any]:
        """The v3 detail payload (a copy: change it freely)."""
        return copy.deepcopy(self.served_payload(session_id))

    def served_payload(self, session_id: str) -> dict[str, Any]:
        """The v3 detail payload the server sends (shared with the server: do not change it)."""
        with self._lock:
            record = self._sessions[session_id.lower()]
            if record.session_id not in self._payloads:
                study = self._studies[record.test_id]
                made = content.session_payload(self.seed, study, record, self.participants)
                self._payloads[record.session_id] = made
            return self._payloads[record.session_id]

    def transcript_text(self, session_id: str) -> str | None:
        """The session's transcript, available yet or not; None if its kind has none."""
        with self._lock:
            record = self._sessions[session_id.lower()]
            if record.has_transcript and record.session_id not in self._transcripts:
                kind = self._studies[record.test_id].kind
                self._transcripts[record.session_id] = media.transcript(self.seed, record, kind)
            return self._transcripts.get(record.session_id)

    def transcript(self, session_id: str) -> str | None:
        """What the transcript endpoint serves now: the WebVTT text, or None (a 404)."""
        record = self.session(session_id)
        return self.transcript_text(session_id) if record and record.transcript_available else None

    def video_size(self, session_id: str) -> int | None:
        record = self.session(session_id)
        return self.video_size_bytes if record and record.has_video else None

    def video_chunks(self, session_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return media.video_chunks(self.seed, session_id.lower(), self.video_size_bytes, start, end)

    def clip_chunks(self, item: str) -> Iterator[bytes]:
        """A clip's or reel's media bytes (made from the seed and its UUID)."""
        return media.video_chunks(self.seed, f"clip:{item.lower()}", self._config.clip_size_bytes)

    def clip_sha256(self, item: str) -> str:
        return media.video_sha256(self.seed, f"clip:{item.lower()}", self._config.clip_size_bytes)

    def video_sha256(self, session_id: str) -> str:
        return media.video_sha256(self.seed, session_id.lower(), self.video_size_bytes)

    def qx_scores(self, test_id: str) -> dict[str, Any] | None:
        """The qxScores response for an interaction test; None for other kinds."""
        study = self._require_study(test_id)
        return (
            content.qx_scores(self.seed, study, self.sessions(test_id)) if study.kind == INTERACTION else None
        )


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

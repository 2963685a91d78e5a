"""The sandbox's dataset: tests, their sessions, and everything served about them.

Built deterministically from the seed. Session payloads and transcripts are made on first use from
per-session RNGs (so they do not depend on build order and a 12,000-session test starts instantly),
then kept. All methods are thread-safe; tests read the same object the server serves from.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from . import payload, vtt
from .config import INTERACTION, LIVE_CONVERSATION, TRANSCRIPT_KINDS, VIDEO_KINDS, SandboxConfig, StudySpec
from .models import PERSON_NAMES, QxGroup, SessionRecord, Study, new_uuid, to_ms
from .tasks import task_plan
from .video import video_chunks, video_sha256


def _study(seed: int, index: int, spec: StudySpec, history_end: datetime, days: int) -> Study:
    rng = Random(f"{seed}:study:{index}")
    interaction = spec.kind == INTERACTION
    qx_groups = (
        (QxGroup(new_uuid(rng), "QXscore 1", 3), QxGroup(new_uuid(rng), "QXscore 2", 0))
        if interaction
        else ()
    )
    return Study(
        test_id=new_uuid(rng),
        kind=spec.kind,
        title=spec.title or f"{spec.kind.replace('_', ' ').title()} test {index + 1}",
        ordered_at=to_ms(history_end - timedelta(days=days + 2, minutes=rng.randint(0, 5000))),
        ordered_by=rng.choice(PERSON_NAMES),
        test_plan_id=new_uuid(rng),
        audience_ids=tuple(new_uuid(rng) for _ in range(rng.randint(1, 2))),
        tasks=task_plan(spec.kind, rng),
        qx_groups=qx_groups,
        balanced_comparison_group=new_uuid(rng) if interaction else None,
        answer_style="sparse" if index % 2 else "dto",
    )


class Dataset:
    def __init__(self, config: SandboxConfig) -> None:
        self.seed = config.seed
        self.video_size_bytes = config.video_size_bytes
        self._config = config
        self._lock = threading.RLock()
        self.studies: list[Study] = [
            _study(config.seed, i, spec, config.history_end, config.history_days)
            for i, spec in enumerate(config.studies)
        ]
        self._studies = {s.test_id: s for s in self.studies}
        rng = Random(f"{config.seed}:participants")
        self.participants = [
            new_uuid(rng) for _ in range(max(10, sum(s.sessions for s in config.studies) // 2))
        ]
        self._payloads: dict[str, dict[str, Any]] = {}
        self._transcripts: dict[str, str] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the generated data: deletions, revocations and added sessions are undone."""
        config = self._config
        with self._lock:
            self._sessions: dict[str, SessionRecord] = {}
            self._by_test: dict[str, list[SessionRecord]] = {s.test_id: [] for s in self.studies}
            self._ordinals = dict.fromkeys(self._by_test, 0)
            self._deleted: dict[str, SessionRecord] = {}
            self._revoked: dict[str, int] = {}
            self._added = 0
            self._deletions = 0
            self._payloads.clear()
            self._transcripts.clear()
            for study, spec in zip(self.studies, config.studies, strict=True):
                self._generate(study, spec.sessions, config.history_end, config.history_days)

    # -- building -----------------------------------------------------------------------------

    def _record(self, study: Study, rng: Random, finish: datetime | None, start: datetime) -> SessionRecord:
        ordinal = self._ordinals[study.test_id]
        self._ordinals[study.test_id] += 1
        # Now and then a recording failed to process: a session of a video kind without a video.
        has_video = study.kind in VIDEO_KINDS and ordinal % 16 != 13
        audience = None if ordinal % 7 == 4 or rng.random() < 0.05 else rng.choice(study.audience_ids)
        record = SessionRecord(
            session_id=new_uuid(rng),
            test_id=study.test_id,
            ordinal=ordinal,
            audience_id=audience,
            start_time=to_ms(start),
            finish_time=to_ms(finish) if finish else None,
            tie_rank=rng.getrandbits(32),
            has_video=has_video,
            has_transcript=study.kind in TRANSCRIPT_KINDS,
            # A few transcripts are still being produced when the sandbox starts.
            transcript_available=study.kind in TRANSCRIPT_KINDS and ordinal % 12 != 9,
        )
        self._sessions[record.session_id] = record
        self._by_test[study.test_id].append(record)
        return record

    def _duration(self, study: Study, rng: Random, ordinal: int) -> timedelta:
        if study.kind != LIVE_CONVERSATION:
            return timedelta(minutes=rng.uniform(4, 40))
        # The first interview overruns past an hour, so its transcript needs hour timestamps.
        return timedelta(minutes=rng.uniform(80, 90) if ordinal == 0 else rng.uniform(30, 75))

    def _generate(self, study: Study, count: int, history_end: datetime, days: int) -> None:
        rng = Random(f"{self.seed}:sessions:{study.test_id}")
        span = timedelta(days=days).total_seconds()
        # Ordinals 2 (and 3 in larger tests) finish in the same millisecond as ordinal 1.
        tied = {2, 3} if count > 5 else {2} if count > 3 else set()
        tie_time = history_end
        for ordinal in range(count):
            finish = history_end - timedelta(seconds=rng.uniform(60, span), milliseconds=rng.randint(0, 999))
            if ordinal == 1:
                tie_time = finish
            finish = tie_time if ordinal in tied else finish
            start = finish - self._duration(study, rng, ordinal)
            # Ordinal 9 is COMPLETE yet has no finishTime: the spec allows it.
            self._record(study, rng, None if ordinal == 9 else finish, start)
        group = sorted(self._by_test[study.test_id][1 : 2 + len(tied)], key=lambda r: r.session_id)
        if len(group) == 3:
            # Listed middle, highest, lowest ID: a client that breaks ties by ID, either way, is caught.
            for rank, record in zip((1, 3, 2), group, strict=True):
                record.tie_rank = rank

    # -- changing what is served (the sandbox's control features) ---------------------------------

    def add_sessions(self, test_id: str, count: int, finish_time: datetime | str | None = None) -> list[str]:
        """New COMPLETE sessions. Without finish_time they are the newest; with it, all share that time."""
        with self._lock:
            study = self._require_study(test_id)
            if isinstance(finish_time, str):
                finish_time = datetime.fromisoformat(finish_time.replace("Z", "+00:00"))
            if finish_time is not None and finish_time.tzinfo is None:
                finish_time = finish_time.replace(tzinfo=UTC)
            ids = []
            for _ in range(count):
                finish = finish_time
                if finish is None:
                    keys = [r.sort_key[0] for r in self._by_test[study.test_id]]
                    newest = max(keys, default=datetime.min.replace(tzinfo=UTC))
                    finish = max(to_ms(datetime.now(UTC)), newest + timedelta(milliseconds=1))
                ids.append(self._add(study, finish))
            return ids

    def add_late_sessions(self, test_id: str, count: int, behind: int = 500) -> list[str]:
        """Sessions that arrive now with an old finishTime: each listed behind `behind` newer sessions
        (one full page of the listing), or last when the test has fewer."""
        with self._lock:
            study = self._require_study(test_id)
            ids = []
            for _ in range(count):
                listed = self.sessions(study.test_id)
                if len(listed) > behind > 0:
                    finish = listed[behind - 1].sort_key[0] - timedelta(milliseconds=1)
                elif listed:
                    finish = listed[-1].sort_key[0] - timedelta(minutes=1)
                else:
                    finish = self._config.history_end - timedelta(days=self._config.history_days)
                ids.append(self._add(study, finish))
            return ids

    def _add(self, study: Study, finish: datetime) -> str:
        self._added += 1
        rng = Random(f"{self.seed}:added:{self._added}")
        return self._record(study, rng, finish, finish - self._duration(study, rng, -1)).session_id

    def delete_sessions(
        self, session_ids: Collection[str] = (), test_id: str | None = None, count: int = 0
    ) -> list[str]:
        """Delete these sessions, or `count` sessions of `test_id` picked by the seed. They leave the
        listing (totalCount drops) and their details, transcript and video answer 404."""
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
                record = self._sessions.pop(session_id)
                self._by_test[record.test_id].remove(record)
                self._deleted[session_id] = record
            return chosen

    def restore_sessions(self, session_ids: Collection[str] = ()) -> list[str]:
        """Bring deleted sessions back (all of them when no IDs are given)."""
        with self._lock:
            chosen = [i.lower() for i in session_ids] or list(self._deleted)
            if missing := [i for i in chosen if i not in self._deleted]:
                raise KeyError(f"session {', '.join(missing)} is not deleted")
            for session_id in chosen:
                record = self._deleted.pop(session_id)
                self._sessions[session_id] = record
                self._by_test[record.test_id].append(record)
            return chosen

    def deleted_session_ids(self, test_id: str | None = None) -> list[str]:
        with self._lock:
            return [i for i, r in self._deleted.items() if test_id is None or r.test_id == test_id.lower()]

    def revoke_test(self, test_id: str, status: int = 404) -> None:
        """Every endpoint about the test (listing, qxScores, its sessions' details, transcripts and
        video links) answers `status`: 404 as when access is withdrawn, or 401."""
        if status not in (401, 404):
            raise ValueError("a revoked test answers 404 or 401")
        with self._lock:
            self._revoked[self._require_study(test_id).test_id] = status

    def restore_test(self, test_id: str) -> None:
        with self._lock:
            self._revoked.pop(self._require_study(test_id).test_id, None)

    def revoked_status(self, test_id: str) -> int | None:
        """The status a revoked test answers with, or None when it is served."""
        with self._lock:
            return self._revoked.get(test_id.lower())

    def churn(
        self, deleted: int = 0, new: int = 0, late: int = 0, test_ids: Collection[str] | None = None
    ) -> dict[str, dict[str, list[str]]]:
        """What happens between two syncs, for each test: `deleted` sessions go, `new` newest ones and
        `late` late arrivals (see add_late_sessions) come. Returns the IDs per test."""
        with self._lock:
            changes = {}
            for test_id in test_ids or self.test_ids:
                changes[test_id] = {
                    "deleted": self.delete_sessions(test_id=test_id, count=deleted),
                    "new": self.add_sessions(test_id, new),
                    "late": self.add_late_sessions(test_id, late),
                }
            return changes

    # -- reading ------------------------------------------------------------------------------

    @property
    def test_ids(self) -> list[str]:
        return [s.test_id for s in self.studies]

    def _require_study(self, test_id: str) -> Study:
        study = self._studies.get(test_id.lower())
        if study is None:
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

    def payload(self, session_id: str) -> dict[str, Any]:
        """The v3 detail payload (a copy: change it freely)."""
        return copy.deepcopy(self.served_payload(session_id))

    def served_payload(self, session_id: str) -> dict[str, Any]:
        """The v3 detail payload the server sends (shared with the server: read, do not change)."""
        with self._lock:
            record = self._sessions[session_id.lower()]
            if record.session_id not in self._payloads:
                study = self._studies[record.test_id]
                self._payloads[record.session_id] = payload.session_payload(
                    self.seed, study, record, self.participants
                )
            return self._payloads[record.session_id]

    def transcript_text(self, session_id: str) -> str | None:
        """The session's transcript whether or not it is available yet; None if the kind has none."""
        with self._lock:
            record = self._sessions[session_id.lower()]
            if not record.has_transcript:
                return None
            if record.session_id not in self._transcripts:
                kind = self._studies[record.test_id].kind
                self._transcripts[record.session_id] = vtt.transcript(self.seed, record, kind)
            return self._transcripts[record.session_id]

    def transcript(self, session_id: str) -> str | None:
        """What the transcript endpoint serves now: the WebVTT text, or None (a 404)."""
        record = self.session(session_id)
        if record is None or not record.transcript_available:
            return None
        return self.transcript_text(session_id)

    def set_transcript_available(self, session_id: str, available: bool) -> None:
        with self._lock:
            record = self._sessions[session_id.lower()]
            if available and not record.has_transcript:
                raise ValueError(f"session {session_id} is of a kind without transcripts")
            record.transcript_available = available

    def video_size(self, session_id: str) -> int | None:
        record = self.session(session_id)
        return self.video_size_bytes if record and record.has_video else None

    def video_chunks(self, session_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return video_chunks(self.seed, session_id.lower(), self.video_size_bytes, start, end)

    def video_sha256(self, session_id: str) -> str:
        return video_sha256(self.seed, session_id.lower(), self.video_size_bytes)

    def qx_scores(self, test_id: str) -> dict[str, Any] | None:
        """The qxScores response for an interaction test; None for other kinds."""
        study = self._require_study(test_id)
        if study.kind != INTERACTION:
            return None
        return payload.qx_scores(self.seed, study, self.sessions(test_id))

    def tie_groups(self, test_id: str) -> list[list[str]]:
        """Session IDs sharing a finishTime, in listing order: handy for tests about ties."""
        groups: dict[datetime, list[str]] = {}
        for record in self.sessions(test_id):
            if record.finish_time is not None:
                groups.setdefault(record.finish_time, []).append(record.session_id)
        return [ids for ids in groups.values() if len(ids) > 1]

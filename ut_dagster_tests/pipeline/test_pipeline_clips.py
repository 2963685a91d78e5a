"""Clips and highlight reels over the sandbox: they land equal to what it serves, a clip made days
later is picked up when the settle policy says and not before, a removal waits for a second answer,
and an unchanged rerun spends only what the policy says."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.normalize import parse_cues, to_frame
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import CLIP_TRANSCRIPTS, CLIPS, HIGHLIGHT_REELS
from dagster_usertesting.lib.sync.clips_policy import ClipsPolicy
from dagster_usertesting.lib.sync.clips_step import ClipOptions, ClipsResult, sync_clips
from dagster_usertesting.lib.sync.deletions import DeletionPolicy
from dagster_usertesting.lib.sync.listing_step import ListingOptions, sync_listing
from dagster_usertesting.lib.sync.retries import RetryPolicy
from dagster_usertesting.lib.warehouse import TableWrite
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse
from dagster_usertesting.testing import (
    INTERACTION,
    LIVE_CONVERSATION,
    SURVEY,
    THINK_OUT_LOUD,
    SandboxServer,
    StudySpec,
)

CLIP_ENDPOINTS = ("highlight_reels", "clips")
STUDIES = (
    StudySpec(THINK_OUT_LOUD, 14),
    StudySpec(INTERACTION, 6, clips=False),
    StudySpec(SURVEY, 4),
    StudySpec(LIVE_CONVERSATION, 4),
)


def clip_requests(sandbox: SandboxServer) -> dict[str, int]:
    return {k: v for k, v in sandbox.request_counts().items() if k in CLIP_ENDPOINTS}


def served_clips(sandbox: SandboxServer) -> dict[str, dict[str, Any]]:
    found = {}
    for test_id in sandbox.test_ids:
        for session_id in sandbox.dataset.session_ids(test_id):
            body = sandbox.dataset.session_clips(session_id)
            for clip in body["clips"] if body else []:
                found[clip["uuid"]] = {**clip, "session_id": session_id, "test_id": test_id}
    return found


def test_clips_and_reels_land_equal_to_what_the_sandbox_serves(make_pipeline) -> None:
    pipeline = make_pipeline(studies=STUDIES)
    sandbox = pipeline.sandbox
    assert pipeline.sync() == 0
    served = served_clips(sandbox)
    clips = pipeline.table("clips").set_index("clip_id")
    assert set(clips.index) == set(served) and len(served) > 5
    for clip_id, clip in served.items():
        row = clips.loc[clip_id]
        assert (row.session_id, row.test_id, row.clip_name) == (
            clip["session_id"],
            clip["test_id"],
            clip["name"],
        )
        assert (None if pd.isna(row.description) else row.description) == clip.get("description")
        assert row.time_start_ms == round(clip["timeStartMs"]) and row.time_end_ms == clip["timeEndMs"]
        assert bool(row.has_camera) is clip["hasCamera"] and not row.removal_pending
    reels = pipeline.table("highlight_reels")
    expected = {
        r["uuid"]: (r["name"], r["numClips"], r["areAllClipsInReel"])
        for t in sandbox.test_ids
        if (body := sandbox.dataset.highlight_reels(t))
        for r in body["reels"]
    }
    got = {r.reel_id: (r.reel_name, r.num_clips, bool(r.are_all_clips_in_reel)) for r in reels.itertuples()}
    assert got == expected and expected
    # clip_transcripts: the cues of the session's transcript that overlap the clip, and only those.
    spoken = pipeline.table("clip_transcripts").set_index("clip_id")
    assert set(spoken.index) == set(served)
    checked = 0
    for clip_id, clip in served.items():
        vtt = sandbox.dataset.transcript(clip["session_id"])
        row = spoken.loc[clip_id]
        if vtt is None:
            assert pd.isna(row.transcript_text)
            continue
        start, end = round(clip["timeStartMs"]), clip["timeEndMs"]
        expected_text = [
            c.text
            for c in sorted(parse_cues(vtt), key=lambda c: c.start_ms)
            if c.start_ms < end and c.end_ms > start
        ]
        assert row.transcript_text == "\n".join(expected_text) and row.cue_count == len(expected_text)
        checked += 1
    assert checked
    # What it cost: one reels request per test (the survey's kind is not known yet: it answers 404),
    # one clips request per session of the tests that have clips (a session without a video answers
    # 404: nothing says so beforehand); none for the interaction test without clips or the survey.
    with_video = [r for t in (sandbox.test_ids[0], sandbox.test_ids[3]) for r in sandbox.dataset.sessions(t)]
    assert clip_requests(sandbox) == {"highlight_reels": 4, "clips": len(with_video)}

    sandbox.reset_requests()
    assert pipeline.sync() == 0
    # Unchanged, and the reels were asked less than `reels_every_hours` ago: not one clip request.
    assert clip_requests(sandbox) == {}
    assert set(pipeline.table("clips").clip_id) == set(served)


def test_clips_off_asks_and_writes_nothing(make_pipeline) -> None:
    pipeline = make_pipeline(studies=STUDIES[:1], env={"UT_CLIPS": "false"})
    assert pipeline.sync() == 0
    assert clip_requests(pipeline.sandbox) == {}
    tables = pipeline.query(
        "select table_name from information_schema.tables where table_schema = 'usertesting'"
    )
    assert not {"clips", "highlight_reels", "clip_transcripts"} & set(tables.table_name)


def test_a_session_deleted_upstream_takes_its_clips_with_it(make_pipeline) -> None:
    pipeline = make_pipeline(studies=STUDIES[:1])
    assert pipeline.sync() == 0
    clips = pipeline.table("clips")
    gone = clips.session_id.iloc[0]
    pipeline.sandbox.delete_sessions([gone])
    assert pipeline.sync(reconcile=True) == 0
    left = pipeline.table("clips")
    assert gone not in set(left.session_id) and set(left.clip_id) == set(
        clips[clips.session_id != gone].clip_id
    )
    assert gone not in set(pipeline.table("clip_transcripts").session_id)


# -- the settle schedule, on a clock the test moves (the sandbox's and the sync's together) ---------


class Rig:
    """One test's listing and clips steps over a sandbox, a DuckDB file and a landing area."""

    def __init__(self, tmp: Path, sandbox: SandboxServer, resource: Any) -> None:
        self.sandbox, self.client = sandbox, resource.get_client()
        self.test_id = TestId(sandbox.test_ids[0])
        self.landing = Landing(LocalObjectStore(tmp / "landing"))
        self.warehouse = DuckDBWarehouse(tmp / "warehouse.duckdb")
        self.now = datetime(2025, 3, 1, tzinfo=UTC)
        self.policy = ClipsPolicy(settle_hours=(24.0, 168.0), recent_hours=72.0, confirm_hours=1.0)

    def at(self, moment: datetime) -> None:
        self.now = moment
        self.sandbox.set_clock(moment)

    def sync(self) -> ClipsResult:
        listing = sync_listing(
            self.test_id, self.client, self.landing, self.warehouse, ListingOptions(1e6, DeletionPolicy())
        )
        options = ClipOptions(RetryPolicy(), self.policy, clock=lambda: self.now)
        log = logging.getLogger("test")
        result = sync_clips(
            self.test_id,
            self.client,
            self.landing,
            self.warehouse,
            options,
            lambda todo: SyncProgress(log, self.test_id, "clips", todo, self.client.stats),
        )
        sessions = frozenset(result.changes.sessions)
        for table, rows, written in (
            (HIGHLIGHT_REELS, result.reels, None),
            (CLIP_TRANSCRIPTS, result.clip_transcripts, sessions),
            (CLIPS, result.clips, sessions),
        ):
            self.warehouse.write(self.test_id, TableWrite(table, to_frame(table, rows), written))
        del listing
        return result

    def clips(self, session_id: str) -> dict[str, bool]:
        frame = self.warehouse.read(CLIPS, self.test_id)
        mine = frame[frame.session_id == session_id]
        return {r.clip_id: bool(r.removal_pending) for r in mine.itertuples()}

    def asked(self, session_id: str) -> int:
        return Counter(r["path"] for r in self.sandbox.requests)[f"/api/v2/sessionResults/{session_id}/clips"]


@pytest.fixture
def rig(tmp_path: Path, start_sandbox: Any, sandbox_resource: Any) -> Rig:
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 3),))
    # No client retries: the sandbox's log counts what the step asked.
    resource = sandbox_resource(sandbox, rate_limit_store=str(tmp_path / "limit.sqlite"), max_retries=0)
    return Rig(tmp_path, sandbox, resource)


def test_a_clip_made_days_later_is_picked_up_at_the_settle_point_and_not_before(rig: Rig) -> None:
    finished = datetime(2025, 3, 1, 12, tzinfo=UTC)
    rig.at(finished)
    [session] = rig.sandbox.add_sessions(rig.test_id, 1, finish_time=finished)

    def at_hours(hours: float) -> ClipsResult:
        rig.at(finished + timedelta(hours=hours))
        return rig.sync()

    at_hours(12)
    assert rig.asked(session) == 0  # before its first settle point, nothing changed: not asked
    at_hours(48)
    assert rig.asked(session) == 1 and rig.clips(session) == {}
    # The sensor's cue: the next settle point of the earliest session due (this one's +7 days).
    next_due = rig.landing.read_state(rig.test_id, "clips")["next_due_at"]
    assert datetime.fromisoformat(next_due) == finished + timedelta(hours=168)
    rig.at(finished + timedelta(hours=73))
    clip = rig.sandbox.add_clip(session, name="Late find")  # a researcher goes back to it on day 3
    result = at_hours(96)
    # The reels changed, but the session is no longer recent: it waits for its next settle point,
    # and the all-clips reel shows the clip not accounted for meanwhile.
    assert rig.asked(session) == 1 and rig.clips(session) == {} and result.unaccounted == 1
    at_hours(167.9)
    assert rig.asked(session) == 1 and rig.clips(session) == {}
    result = at_hours(168)  # reels asked 0.1 h ago: not again; their last answer stands
    assert rig.asked(session) == 2 and rig.clips(session) == {clip: False} and result.unaccounted == 0
    assert result.due == {"settle point": 1} and not result.reels_asked
    at_hours(400)
    assert rig.asked(session) == 2  # settled: never asked again unless the reels say so


def test_a_recent_session_is_asked_again_when_the_reels_change_and_a_removal_waits_for_a_second_answer(
    rig: Rig,
) -> None:
    rig.policy = ClipsPolicy(settle_hours=(24.0, 168.0), recent_hours=72.0, reels_every_hours=0.0)
    finished = datetime(2025, 3, 1, 12, tzinfo=UTC)
    rig.at(finished)
    [session] = rig.sandbox.add_sessions(rig.test_id, 1, finish_time=finished)
    rig.at(finished + timedelta(hours=1))
    rig.sync()
    assert rig.asked(session) == 0  # recent, but nothing changed since the reels were first seen
    rig.at(finished + timedelta(hours=2))
    clip = rig.sandbox.add_clip(session, name="Right after")
    rig.at(finished + timedelta(hours=3))
    rig.sync()
    assert rig.asked(session) == 1 and rig.clips(session) == {clip: False}  # reels changed: asked early
    rig.at(finished + timedelta(hours=4))
    rig.sandbox.remove_clip(session, clip)
    rig.at(finished + timedelta(hours=5))
    rig.sync()
    assert rig.asked(session) == 2 and rig.clips(session) == {clip: True}  # one answer: pending
    rig.at(finished + timedelta(hours=5.5))
    rig.sync()
    assert rig.asked(session) == 2 and rig.clips(session) == {clip: True}  # too soon to confirm
    rig.at(finished + timedelta(hours=6))
    result = rig.sync()
    assert rig.asked(session) == 3 and rig.clips(session) == {}
    assert result.due == {"confirm a removal": 1}


def test_a_failing_clip_list_is_that_sessions_problem_and_backs_off(rig: Rig) -> None:
    from dagster_usertesting.lib.sync.state import CLIPS as CLIPS_ENDPOINT
    from dagster_usertesting.lib.sync.state import SyncState

    finished = datetime(2025, 3, 1, 12, tzinfo=UTC)
    rig.at(finished)
    broken, fine = rig.sandbox.add_sessions(rig.test_id, 2, finish_time=finished)
    rig.sandbox.configure(failing_clip_session_ids=[broken])
    rig.at(finished + timedelta(hours=25))
    result = rig.sync()
    assert rig.asked(broken) == 1 and rig.asked(fine) == 1 and broken in result.failed_now
    assert SyncState(rig.landing, rig.test_id).failures(CLIPS_ENDPOINT)[broken].count == 1
    rig.at(finished + timedelta(hours=25, minutes=20))
    rig.sync()
    assert rig.asked(broken) == 1  # backing off (UT_SESSION_RETRY_MINUTES: 30)
    rig.sandbox.configure(failing_clip_session_ids=[])
    rig.at(finished + timedelta(hours=25, minutes=31))
    result = rig.sync()
    assert rig.asked(broken) == 2 and rig.asked(fine) == 1 and not result.failures


def test_a_test_revoked_mid_step_marks_no_session_without_clips(rig: Rig) -> None:
    from dagster_usertesting.lib.sync.revocation import TestNotAnsweringError

    rig.at(datetime(2025, 3, 1, tzinfo=UTC))
    rig.sandbox.revoke_after(rig.test_id, 1, endpoint="clips")  # after the first clip list
    result = rig.sync()
    assert isinstance(result.fatal, TestNotAnsweringError)
    landed = rig.landing.latest_by_session(rig.test_id, "clips")
    assert [o.kind for objs in landed.values() for o in objs] == ["json"]  # no 404 taken as an answer

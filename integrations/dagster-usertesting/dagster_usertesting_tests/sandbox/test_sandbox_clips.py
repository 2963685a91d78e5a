"""Clips and highlight reels as the sandbox serves them: the spec's four endpoints, clips that appear
after a session ends by the sandbox clock, edits and removals, media GENERATING for a while, links that
expire, and tests without clips. Each knob is driven in process and over HTTP (POST /_sandbox/<name>)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from dagster_usertesting_tests.sandbox.test_sandbox_contract import RESULTS_SPEC, validator

from dagster_usertesting.testing import (
    INTERACTION,
    LIVE_CONVERSATION,
    SURVEY,
    THINK_OUT_LOUD,
    SandboxServer,
    StudySpec,
)
from dagster_usertesting.testing.clips import UNKNOWN_PIP_POSITION

STUDIES = (
    StudySpec(THINK_OUT_LOUD, 30),
    StudySpec(INTERACTION, 12),
    StudySpec(SURVEY, 5),
    StudySpec(LIVE_CONVERSATION, 6),
    StudySpec(THINK_OUT_LOUD, 4, clips=False),
)


@dataclass
class Rig:
    sandbox: SandboxServer
    api: httpx.Client
    over_http: bool

    def control(self, action: str, **arguments: Any) -> Any:
        if self.over_http:
            response = httpx.post(f"{self.sandbox.url}/_sandbox/{action}", json=arguments)
            assert response.status_code == 200, response.text
            return response.json()["result"]
        return getattr(self.sandbox, action)(**arguments)

    def get(self, path: str, status: int = 200) -> Any:
        response = self.api.get(path)
        assert response.status_code == status, (path, response.text)
        return response.json()

    def clips(self, session_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/sessionResults/{session_id}/clips")["clips"])

    def reels(self, test_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/testResults/{test_id}/highlightreels"))

    def session(self, test_index: int, ordinal: int) -> str:
        test_id = self.sandbox.test_ids[test_index]
        return next(r.session_id for r in self.sandbox.dataset.sessions(test_id) if r.ordinal == ordinal)


@pytest.fixture(params=["in_process", "over_http"])
def rig(request: pytest.FixtureRequest, start_sandbox: Callable[..., SandboxServer]) -> Iterator[Rig]:
    sandbox = start_sandbox(studies=STUDIES, clip_size_bytes=70_000)
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as api:
        yield Rig(sandbox, api, request.param == "over_http")
    assert sandbox.server_errors == []


def test_every_clip_answer_matches_the_spec_but_for_the_deviations_clients_must_survive(rig: Rig) -> None:
    reels_check = validator(RESULTS_SPEC, "HighlightReelsResponseDto")
    clips_check = validator(RESULTS_SPEC, "ClipsResponseDto")
    clip_check = validator(RESULTS_SPEC, "ClipDetailsResponseDto")
    reel_check = validator(RESULTS_SPEC, "ReelDetailsResponseDto")
    deviations: set[str] = set()
    served = 0
    for test_id, spec in zip(rig.sandbox.test_ids, STUDIES, strict=True):
        if spec.kind == SURVEY:
            rig.get(f"/api/v2/testResults/{test_id}/highlightreels", 404)
            for session_id in rig.sandbox.dataset.session_ids(test_id):
                rig.get(f"/api/v2/sessionResults/{session_id}/clips", 404)
            continue
        reels = rig.reels(test_id)
        assert not list(reels_check.iter_errors(reels))
        assert reels["studyWithClips"] is spec.clips and bool(reels["reels"]) is spec.clips
        for reel in reels["reels"]:
            detail = rig.get(f"/api/v2/testResults/{test_id}/highlightreels/{reel['uuid']}")
            assert not list(reel_check.iter_errors(detail))
        for record in rig.sandbox.dataset.sessions(test_id):
            path = f"/api/v2/sessionResults/{record.session_id}/clips"
            if not record.has_video:
                rig.get(path, 404)  # a session whose recording failed has no video to clip
                continue
            body = rig.get(path)
            assert body["studyUuid"] == test_id
            for error in clips_check.iter_errors(body):
                where = [str(p) for p in error.absolute_path]
                deviations.add(f"{where[-1]}={error.instance!r}")
            for clip in body["clips"]:
                served += 1
                detail = rig.get(f"{path}/{clip['uuid']}")
                assert not list(clip_check.iter_errors(detail))
    # Optional fields come null, and an enum value the spec does not list: clients must keep them.
    assert deviations == {"description=None", "layout=None", f"pipPosition={UNKNOWN_PIP_POSITION!r}"}
    assert served > 10


def test_malformed_ids_and_unknown_clips_and_reels(rig: Rig) -> None:
    test_id = rig.sandbox.test_ids[0]
    session_id = rig.session(0, 0)
    rig.get(f"/api/v2/testResults/{test_id[:8]}/highlightreels", 400)
    rig.get(f"/api/v2/sessionResults/{session_id}/clips/not-a-uuid", 400)
    unknown = "00000000-0000-4000-8000-000000000000"
    rig.get(f"/api/v2/testResults/{unknown}/highlightreels", 404)
    rig.get(f"/api/v2/testResults/{test_id}/highlightreels/{unknown}", 404)
    rig.get(f"/api/v2/sessionResults/{unknown}/clips", 404)
    rig.get(f"/api/v2/sessionResults/{session_id}/clips/{unknown}", 404)
    assert rig.sandbox.request_counts() == {"highlight_reels": 2, "highlight_reel": 1, "clips": 1, "clip": 2}


def test_clips_appear_after_the_session_ends_and_change_over_days_by_the_sandbox_clock(rig: Rig) -> None:
    record = rig.sandbox.dataset.session(rig.session(0, 0))
    assert record is not None and record.finish_time is not None
    finish = record.finish_time

    def at(hours: float) -> list[str]:
        rig.control("set_clock", at=(finish + timedelta(hours=hours)).isoformat())
        return [c["name"] for c in rig.clips(record.session_id)]

    assert at(-1) == [] and at(1) == []  # researchers clip after the session ends
    assert len(at(3)) == 1
    assert len(at(6)) == 2
    assert len(at(24)) == 2
    assert len(at(31)) == 3  # one made a day later
    assert len(at(24 * 5)) == 2  # and one removed after a few days
    edited = rig.session(0, 1)
    rig.control("set_clock", at=None)
    assert rig.clips(edited)[0]["name"].endswith("(edited)")  # renamed a while after it was made


def test_clips_a_test_makes_edits_and_removes_change_the_reels(rig: Rig) -> None:
    test_id, session_id = rig.sandbox.test_ids[0], rig.session(0, 5)
    rig.control("set_clock", at="2025-03-01T12:00:00Z")
    before = {r["name"]: r for r in rig.reels(test_id)["reels"]}["All clips"]
    clip = rig.control("add_clip", session_id=session_id, name="Rage-clicks on Pay", time_start_ms=1000)
    added = {c["uuid"]: c for c in rig.clips(session_id)}[clip]
    assert added["name"] == "Rage-clicks on Pay" and added["timeStartMs"] == 1000
    reel = {r["name"]: r for r in rig.reels(test_id)["reels"]}["All clips"]
    assert reel["numClips"] == before["numClips"] + 1
    assert reel["lastUpdatedAtMs"] > before["lastUpdatedAtMs"]

    rig.control("advance_clock", hours=2)
    rig.control("edit_clip", session_id=session_id, clip_uuid=clip, description="Seen in 4 of 5 sessions")
    edited = {c["uuid"]: c for c in rig.clips(session_id)}[clip]
    assert edited["description"] == "Seen in 4 of 5 sessions" and edited["name"] == "Rage-clicks on Pay"
    after_edit = {r["name"]: r for r in rig.reels(test_id)["reels"]}["All clips"]
    assert after_edit["lastUpdatedAtMs"] == reel["lastUpdatedAtMs"] + 2 * 3600 * 1000

    rig.control("advance_clock", minutes=5)
    rig.control("remove_clip", session_id=session_id, clip_uuid=clip)
    assert clip not in {c["uuid"] for c in rig.clips(session_id)}
    rig.get(f"/api/v2/sessionResults/{session_id}/clips/{clip}", 404)
    gone = {r["name"]: r for r in rig.reels(test_id)["reels"]}["All clips"]
    assert gone["numClips"] == before["numClips"] and gone["lastUpdatedAtMs"] > after_edit["lastUpdatedAtMs"]


def test_tests_without_clips_say_so(rig: Rig) -> None:
    never, tol = rig.sandbox.test_ids[4], rig.sandbox.test_ids[0]
    assert rig.reels(never) == {"reels": [], "studyWithClips": False}
    assert all(rig.clips(s) == [] for s in rig.sandbox.dataset.session_ids(never))
    assert rig.reels(tol)["studyWithClips"] is True
    rig.control("set_study_clips", test_id=tol, enabled=False)
    assert rig.reels(tol) == {"reels": [], "studyWithClips": False}
    assert rig.clips(rig.session(0, 0)) == []
    rig.control("set_study_clips", test_id=tol, enabled=True)
    assert rig.reels(tol)["studyWithClips"] is True


def test_media_is_generating_for_a_while_then_a_link_that_expires(rig: Rig) -> None:
    rig.control("configure", clip_generating_polls=2)
    session_id, test_id = rig.session(0, 0), rig.sandbox.test_ids[0]
    clip = rig.clips(session_id)[0]["uuid"]
    path = f"/api/v2/sessionResults/{session_id}/clips/{clip}"
    assert [rig.get(path)["status"] for _ in range(2)] == ["GENERATING", "GENERATING"]
    ready = rig.get(path)
    assert ready["status"] == "GENERATED" and "X-Amz-Expires=900" in ready["clipUrl"]
    media = httpx.get(ready["clipUrl"])
    assert media.status_code == 200 and len(media.content) == 70_000
    assert hashlib.sha256(media.content).hexdigest() == rig.sandbox.dataset.clip_sha256(clip)
    reel = rig.reels(test_id)["reels"][0]["uuid"]
    reel_path = f"/api/v2/testResults/{test_id}/highlightreels/{reel}"
    assert rig.get(reel_path) == {"reelId": reel, "status": "GENERATING", "reelUrl": None}
    rig.get(reel_path)
    reel_url = rig.get(reel_path)["reelUrl"]
    assert hashlib.sha256(httpx.get(reel_url).content).hexdigest() == rig.sandbox.dataset.clip_sha256(reel)
    # A link past its lifetime is refused as S3 refuses it; asking again gives a fresh one.
    rig.control("configure", clip_link_lifetime_seconds=0)
    stale = rig.get(path)["clipUrl"]
    refused = httpx.get(stale)
    assert refused.status_code == 403 and "Request has expired" in refused.text
    assert httpx.get(stale.replace(clip, reel)).status_code == 403  # a link is for its own object only


def test_clip_endpoints_fail_and_404_on_cue(rig: Rig) -> None:
    session_id = rig.session(0, 0)
    rig.control("configure", failing_clip_session_ids=[session_id])
    assert rig.api.get(f"/api/v2/sessionResults/{session_id}/clips").status_code == 503
    rig.control("configure", failing_clip_session_ids=[])
    rig.control("transient_not_found", session_id=session_id, endpoint="clips")
    rig.get(f"/api/v2/sessionResults/{session_id}/clips", 404)
    assert len(rig.clips(session_id)) >= 1
    rig.control("revoke_test", test_id=rig.sandbox.test_ids[0])
    rig.get(f"/api/v2/testResults/{rig.sandbox.test_ids[0]}/highlightreels", 404)
    rig.get(f"/api/v2/sessionResults/{session_id}/clips", 404)
    rig.control("restore_test", test_id=rig.sandbox.test_ids[0])
    rig.control("delete_sessions", session_ids=[session_id])
    rig.get(f"/api/v2/sessionResults/{session_id}/clips", 404)  # a deleted session takes its clips along


def test_a_session_a_test_adds_has_only_the_clips_it_is_given(rig: Rig) -> None:
    test_id = rig.sandbox.test_ids[0]
    rig.control("set_clock", at="2025-03-01T00:00:00Z")
    [session_id] = rig.control("add_sessions", test_id=test_id, count=1)
    rig.control("advance_clock", hours=24 * 30)
    assert rig.clips(session_id) == []
    clip = rig.control("add_clip", session_id=session_id)
    assert [c["uuid"] for c in rig.clips(session_id)] == [clip]

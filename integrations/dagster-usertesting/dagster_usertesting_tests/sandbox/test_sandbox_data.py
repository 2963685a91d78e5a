"""The sandbox's data: deterministic, varied, and served the way the dataset says."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from statistics import fmean
from typing import Any

import httpx
import pytest
import webvtt

from dagster_usertesting.testing import INTERACTION, THINK_OUT_LOUD, SandboxConfig, SandboxServer, StudySpec
from dagster_usertesting.testing.content import ANSWER_KEYS
from dagster_usertesting.testing.data import Dataset


def all_sessions(client: httpx.Client, test_id: str, limit: int) -> list[dict[str, Any]]:
    found, offset = [], 0
    while True:
        page = client.get(
            "/api/v2/sessionResults", params={"testId": test_id, "limit": limit, "offset": offset}
        )
        body = page.json()
        found += body["sessions"]
        offset += limit
        if offset >= body["meta"]["pagination"]["totalCount"]:
            return found


def test_dataset_is_deterministic_per_seed() -> None:
    def snapshot(seed: int) -> list[Any]:
        dataset = Dataset(SandboxConfig(seed=seed))
        ids = [dataset.session_ids(t) for t in dataset.test_ids]
        # Build in reverse order: lazily made content must not depend on the order it is asked for.
        sessions = [s for group in ids for s in group][::-1]
        return [ids, [dataset.payload(s) for s in sessions], [dataset.transcript_text(s) for s in sessions]]

    assert snapshot(5) == snapshot(5)
    assert snapshot(5)[0] != snapshot(6)[0]


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_payloads_cover_every_type_and_nullable_field() -> None:
    dataset = Dataset(SandboxConfig())
    records = [r for t in dataset.test_ids for r in dataset.sessions(t)]
    payloads = [dataset.payload(r.session_id) for r in records]
    tasks = [t for p in payloads for t in p["tasks"]]
    responses = [t["response"] for t in tasks if t["response"]]
    answers = [r["answer"] for r in responses if r["answer"] is not None]
    demographics = [
        d for p in payloads if p["sessionParticipant"] for d in p["sessionParticipant"]["demographicsInfo"]
    ]
    types = {t["type"] for t in tasks}
    assert types >= {
        "BLANK",
        "RATING_SCALE",
        "MULTIPLE_CHOICE",
        "IMAGE",
        "NPS",
        "URL",
        "RANK_ORDER",
        "WRITTEN",
        "FIGMA",
        "MATRIX",
        "UNRECOGNIZED",
        "CARD_SORT",
    }
    assert {g["type"] for p in payloads for g in p["taskGroups"]} == {
        "QX_SCORE",
        "BALANCED_COMPARISON",
        "UNRECOGNIZED",
    }
    assert any(p["sessionParticipant"] is None for p in payloads)
    assert any(p["sessionParticipant"] and p["sessionParticipant"]["participantId"] is None for p in payloads)
    assert any(
        p["sessionParticipant"] and p["sessionParticipant"]["demographicsInfo"] == [] for p in payloads
    )
    assert any(p["tasks"] == [] for p in payloads) and any(p["taskGroups"] == [] for p in payloads)
    assert any(g["response"] is None for p in payloads for g in p["taskGroups"])
    assert any(t["response"] is None for t in tasks)
    assert any(r["skipped"] and r["answer"] is None for r in responses)
    assert any(not r["skipped"] and r["answer"] is None for r in responses)
    assert any(all(v is None for v in d.values()) for d in demographics)
    assert {d["type"] for d in demographics} >= {
        "DEMOGRAPHIC_QUESTION_TYPE_SINGLE",
        "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE",
        "UNRECOGNIZED",
    }
    assert any(
        d["type"] == "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE" and "," in (d["value"] or "") for d in demographics
    )
    assert any(r.finish_time is None for r in records) and any(r.audience_id is None for r in records)
    assert any(p["audienceId"] is None for p in payloads)
    # Both envelope styles, a filled key beside the expected one, and one under the wrong key.
    assert any(len(a) == 10 for a in answers) and any(len(a) == 1 for a in answers)
    assert any("written" in a and a["written"] and len([v for v in a.values() if v]) == 2 for a in answers)
    answered = [
        (t["type"], t["response"]["answer"]) for t in tasks if t["response"] and t["response"]["answer"]
    ]
    assert any(
        kind in ANSWER_KEYS and not answer.get(ANSWER_KEYS[kind]) and any(answer.values())
        for kind, answer in answered
    )
    assert any("cardSort" in answer for kind, answer in answered if kind == "CARD_SORT")
    text = json.dumps(payloads, ensure_ascii=False)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text) and "é" in text and "😍" in text
    assert any(isinstance(n, dict) and n.get("multiSelect") for n in _walk(payloads))
    assert all(dataset.tie_groups(t) for t in dataset.test_ids)


def test_listing_is_newest_first_and_stable_on_ties(sandbox: SandboxServer, api: httpx.Client) -> None:
    for test_id in sandbox.test_ids:
        served = all_sessions(api, test_id, limit=7)
        assert [s["sessionId"] for s in served] == sandbox.dataset.session_ids(test_id)
        assert [s["sessionId"] for s in all_sessions(api, test_id, limit=500)] == [
            s["sessionId"] for s in served
        ]
        keys = [s["finishTime"] or s["startTime"] for s in served]
        assert keys == sorted(keys, reverse=True)
        assert {s["status"] for s in served} == {"COMPLETE"}
    tied = sandbox.dataset.tie_groups(sandbox.test_ids[0])[0]
    assert len(tied) == 3 and tied not in (sorted(tied), sorted(tied, reverse=True))


def test_sessions_arriving_while_paging_repeat_across_pages(
    start_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = start_sandbox(arrivals_per_list_request=1, studies=(StudySpec(THINK_OUT_LOUD, 12),))
    test_id = sandbox.test_ids[0]
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
    ) as api:
        first = api.get("/api/v2/sessionResults", params={"testId": test_id, "limit": 5}).json()
        second = api.get("/api/v2/sessionResults", params={"testId": test_id, "limit": 5, "offset": 5}).json()
    assert (
        first["meta"]["pagination"]["totalCount"] == 13 and second["meta"]["pagination"]["totalCount"] == 14
    )
    assert second["sessions"][0]["sessionId"] == first["sessions"][-1]["sessionId"]
    assert len(sandbox.dataset.sessions(test_id)) == 14


def test_added_sessions_land_where_their_finish_time_sorts(sandbox: SandboxServer, api: httpx.Client) -> None:
    test_id = sandbox.test_ids[0]
    before = sandbox.dataset.sessions(test_id)
    newer, older = before[9], before[10]
    assert newer.finish_time and older.finish_time
    late = sandbox.add_sessions(
        test_id, 1, finish_time=older.finish_time + (newer.finish_time - older.finish_time) / 2
    )
    tied = {s for group in sandbox.dataset.tie_groups(test_id) for s in group}
    anchor = next(i for i, r in enumerate(before) if r.finish_time and r.session_id not in tied and i > 2)
    ties = sandbox.add_sessions(test_id, 2, finish_time=before[anchor].finish_time.isoformat())  # type: ignore[union-attr]
    newest = sandbox.add_sessions(test_id, 2)
    served = [s["sessionId"] for s in all_sessions(api, test_id, limit=500)]
    assert served[:2] == newest[::-1]
    assert served.index(newer.session_id) < served.index(late[0]) < served.index(older.session_id)
    positions = {served.index(s) for s in [*ties, before[anchor].session_id]}
    assert positions == {anchor + 2, anchor + 3, anchor + 4}  # after the two newest, before the late one
    assert served == sandbox.dataset.session_ids(test_id)
    details = api.get(f"/api/v3/sessionResults/{late[0]}").json()
    assert details == sandbox.dataset.payload(late[0])


def test_transcripts_can_appear_later(sandbox: SandboxServer, api: httpx.Client) -> None:
    records = sandbox.dataset.sessions(sandbox.test_ids[0])
    pending = next(r.session_id for r in records if not r.transcript_available)
    ready = next(r.session_id for r in records if r.transcript_available)
    assert api.get(f"/api/v2/sessionResults/{pending}/transcript").status_code == 404
    sandbox.set_transcript_available(pending, True)
    assert api.get(f"/api/v2/sessionResults/{pending}/transcript").text == sandbox.dataset.transcript(pending)
    sandbox.set_transcript_available(ready, False)
    assert api.get(f"/api/v2/sessionResults/{ready}/transcript").status_code == 404
    with pytest.raises(ValueError):
        sandbox.set_transcript_available(sandbox.dataset.session_ids(sandbox.test_ids[2])[0], True)


def test_transcripts_are_valid_and_varied_webvtt() -> None:
    dataset = Dataset(SandboxConfig())
    texts = [
        t for tid in dataset.test_ids for s in dataset.session_ids(tid) if (t := dataset.transcript_text(s))
    ]
    for text in texts:
        cues = webvtt.from_buffer(io.StringIO(text.lstrip("\ufeff"))).captions
        assert len(cues) == text.count("-->")
        assert text.lstrip("\ufeff").startswith("WEBVTT")
    joined = "\n".join(texts)
    assert sum(t.startswith("\ufeff") for t in texts) >= 1 and any("\r\n" in t for t in texts)
    for feature in (
        "WEBVTT - ",
        "Kind: captions",
        "NOTE",
        "STYLE",
        "align:start position:10%",
        "<v Participant>",
        "<v Moderator>",
        "</v>",
        "<i>",
        "<b>",
        "&amp;",
        "&lt;",
        "&nbsp;",
        "\ncue-",
        "\n2\n",
    ):
        assert feature in joined.replace("\r\n", "\n"), feature
    assert re.search(r"^\d\d:\d\d\.\d{3} --> ", joined, re.M) and re.search(
        r"^01:\d\d:\d\d\.\d{3}", joined, re.M
    )
    assert any(t.count("-->") == 0 for t in texts)


def test_video_links_download_and_expire(start_sandbox: Callable[..., SandboxServer]) -> None:
    sandbox = start_sandbox(video_size_bytes=300_000)
    session_id = sandbox.dataset.session_ids(sandbox.test_ids[1])[0]
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
    ) as api:
        url = api.get(f"/api/v2/sessionResults/{session_id}/videoDownloadUrl").json()["videoUrl"]
        sandbox.config.video_link_lifetime_seconds = 0
        expired = api.get(f"/api/v2/sessionResults/{session_id}/videoDownloadUrl").json()["videoUrl"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url
    with httpx.Client() as store:  # no bearer token: the link is the credential
        video = store.get(url)
        assert video.headers["content-type"] == "video/mp4" and video.headers["content-length"] == "300000"
        assert hashlib.sha256(video.content).hexdigest() == sandbox.dataset.video_sha256(session_id)
        assert video.content[4:8] == b"ftyp"
        gone = store.get(expired)
        assert (
            gone.status_code == 403 and "<Code>AccessDenied</Code><Message>Request has expired" in gone.text
        )
        forged = store.get(re.sub(r"X-Amz-Signature=\w+", "X-Amz-Signature=00", url))
        assert forged.status_code == 403 and "SignatureDoesNotMatch" in forged.text
    assert len(sandbox.requests) == 2 and len(sandbox.video_requests) == 3


def test_video_drops_once_then_serves_whole(start_sandbox: Callable[..., SandboxServer]) -> None:
    sandbox = start_sandbox(video_size_bytes=200_000, video_drop_after_bytes=70_000)
    session_id = sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
    ) as api:
        url = api.get(f"/api/v2/sessionResults/{session_id}/videoDownloadUrl").json()["videoUrl"]
    received = bytearray()
    with httpx.Client() as store, pytest.raises(httpx.TransportError), store.stream("GET", url) as response:
        for chunk in response.iter_bytes():
            received += chunk
    assert len(received) == 70_000
    with httpx.Client() as store:
        again = store.get(url)
    assert again.status_code == 200 and again.content[:70_000] == received
    assert hashlib.sha256(again.content).hexdigest() == sandbox.dataset.video_sha256(session_id)


def test_huge_videos_are_made_on_the_fly(start_sandbox: Callable[..., SandboxServer]) -> None:
    size = 5 * 1024**3
    sandbox = start_sandbox(video_size_bytes=size)
    session_id = sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
    ) as api:
        url = api.get(f"/api/v2/sessionResults/{session_id}/videoDownloadUrl").json()["videoUrl"]
    with httpx.Client() as store, store.stream("GET", url) as response:
        assert response.headers["content-length"] == str(size)
        first = next(response.iter_raw())
    assert first == next(sandbox.dataset.video_chunks(session_id))[: len(first)]
    tail = b"".join(sandbox.dataset.video_chunks(session_id, size - 100_000))
    assert len(tail) == 100_000 and tail[8:] != b"\0" * (100_000 - 8)
    assert all(len(c) <= 64 * 1024 for c in sandbox.dataset.video_chunks(session_id, 0, 300_000))


def test_qx_scores_summarise_the_sessions(sandbox: SandboxServer, api: httpx.Client) -> None:
    test_id = next(s.test_id for s in sandbox.dataset.studies if s.kind == INTERACTION)
    before = api.get(f"/api/v2/testResults/{test_id}/qxScores").json()
    scores: dict[str, list[float]] = {}
    for session_id in sandbox.dataset.session_ids(test_id):
        for group in sandbox.dataset.payload(session_id)["taskGroups"]:
            if group["type"] == "QX_SCORE" and group["response"]:
                scores.setdefault(group["uuid"], []).append(group["response"]["score"])
    assert before["meta"] == {"totalQxTasks": 2, "completes": 20}
    for item in before["qxScores"]:
        assert item["qxScore"] == round(fmean(scores[item["taskGroupId"]]), 1)
    assert [i["components"]["behavioral"] is None for i in before["qxScores"]] == [False, True]
    sandbox.add_sessions(
        test_id, 1, finish_time=sandbox.dataset.sessions(test_id)[-1].start_time - timedelta(1)
    )
    after = api.get(f"/api/v2/testResults/{test_id}/qxScores").json()
    assert after["meta"]["completes"] == 21

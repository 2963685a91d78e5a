"""The in-process sandbox the pipeline tests use answers a client exactly as the sandbox over HTTP does."""

import hashlib

import pytest

from dagster_usertesting.lib.usertesting_api.errors import UserTestingUnavailableError
from dagster_usertesting.testing import INTERACTION, THINK_OUT_LOUD, StudySpec

STUDIES = (StudySpec(THINK_OUT_LOUD, 4), StudySpec(INTERACTION, 3))


def _conversation(sandbox, resource) -> tuple[list, list, dict]:
    """Everything a sync asks for, through `resource`: what the client got and what the sandbox saw."""
    client = resource.get_client()
    got: list = []
    for test_id in sandbox.test_ids:
        for session in client.list_sessions(test_id):
            session_id = session["sessionId"]
            got += [client.get_session_details(session_id), client.get_transcript(session_id)]
            with client.open_video(client.get_video_download_url(session_id)) as video:
                got.append(hashlib.sha256(b"".join(video.chunks)).hexdigest())
        got.append(client.get_qx_scores(test_id))
    api = [(r["method"], r["path"], r["query"], r["status"]) for r in sandbox.requests]
    videos = [(r["method"], r["path"], r["status"]) for r in sandbox.video_requests]  # signatures differ
    stats = {k: v for k, v in client.stats.snapshot().as_metadata().items() if "wait" not in k}
    return got, api + videos, stats


def test_a_client_gets_and_the_sandbox_sees_the_same_over_http_and_in_process(
    start_sandbox, api_resource, sandbox_resource, tmp_path
):
    # Injected faults (500, 502/503 as HTML, connections dropped without an answer) and pages of 2;
    # the same seed draws the same faults for the same requests. A roomy rate limit: windows depend
    # on timing, which differs.
    config = {"studies": STUDIES, "error_rate": 0.25, "seed": 5, "requests_per_window": 5000}
    over_http, in_process = start_sandbox(**config), start_sandbox(**config)

    http_got, http_seen, http_stats = _conversation(
        over_http, api_resource(over_http, page_size=2, rate_limit_store=str(tmp_path / "http"))
    )
    got, seen, stats = _conversation(
        in_process, sandbox_resource(in_process, page_size=2, rate_limit_store=str(tmp_path / "in-process"))
    )

    assert got == http_got
    assert seen == http_seen
    assert stats == http_stats
    statuses = {entry[-1] for entry in seen}
    assert {None, 500, 200} <= statuses and statuses & {502, 503}  # the faults were really drawn
    assert in_process.server_errors == [] and over_http.server_errors == []


def test_a_download_broken_off_mid_body_fails_as_over_a_socket(start_sandbox, sandbox_resource):
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 1),), video_drop_after_bytes=5000)
    session_id = sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    client = sandbox_resource(sandbox).get_client()
    link = client.get_video_download_url(session_id)

    with pytest.raises(UserTestingUnavailableError, match="interrupted"), client.open_video(link) as video:
        b"".join(video.chunks)
    with client.open_video(link) as video:  # the sandbox breaks off the first download only
        assert hashlib.sha256(b"".join(video.chunks)).hexdigest() == sandbox.dataset.video_sha256(session_id)


def test_the_servers_rate_limit_headers_reach_the_client_in_process(start_sandbox, sandbox_resource):
    # The client believes it may send 50 a second; the sandbox allows 3 per 0.5 s and says so in
    # x-ratelimit-remaining, which the client follows: it waits instead of meeting 429s.
    sandbox = start_sandbox(
        studies=(StudySpec(THINK_OUT_LOUD, 8),), requests_per_window=3, window_seconds=0.5
    )
    client = sandbox_resource(sandbox, requests_per_minute=50, rate_window_seconds=1.0).get_client()
    session_ids = sandbox.dataset.session_ids(sandbox.test_ids[0])

    details = [client.get_session_details(s) for s in session_ids]

    assert [d["sessionId"] for d in details] == session_ids
    assert [r["status"] for r in sandbox.requests] == [200] * len(session_ids)
    assert client.stats.snapshot().as_metadata()["api_budget_wait_seconds"] > 0


def test_another_origin_is_unreachable_in_process(start_sandbox, sandbox_resource):
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 1),))
    resource = sandbox_resource(sandbox, base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(UserTestingUnavailableError, match="did not answer"):
        resource.get_client().get_session_details(sandbox.dataset.session_ids(sandbox.test_ids[0])[0])
    assert sandbox.requests == []


def test_no_request_is_sent_before_the_servers_window_resets_once_it_says_none_remain(
    start_sandbox, sandbox_resource
):
    # Our window ends long before the server's (configured shorter, or out of phase on a busy host):
    # "x-ratelimit-remaining: 0" holds every request until its x-ratelimit-reset, so no 429 is met.
    sandbox = start_sandbox(
        studies=(StudySpec(THINK_OUT_LOUD, 6),), requests_per_window=3, window_seconds=2.0
    )
    client = sandbox_resource(sandbox, requests_per_minute=50, rate_window_seconds=0.2).get_client()
    session_ids = sandbox.dataset.session_ids(sandbox.test_ids[0])

    assert [client.get_session_details(s)["sessionId"] for s in session_ids] == session_ids
    assert [r["status"] for r in sandbox.requests] == [200] * len(session_ids)

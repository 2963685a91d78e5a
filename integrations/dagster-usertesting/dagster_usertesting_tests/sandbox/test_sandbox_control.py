"""Driving a running sandbox: deleted sessions, revoked tests, new and late sessions, reset, request
counts; in process and over the /_sandbox/ admin routes, observed over real HTTP as a client sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, SandboxServer, StudySpec

BIG = (StudySpec(SURVEY, 600), StudySpec(SURVEY, 600))


def listed(api: httpx.Client, test_id: str, limit: int = 500, offset: int = 0) -> dict[str, Any]:
    response = api.get("/api/v2/sessionResults", params={"testId": test_id, "limit": limit, "offset": offset})
    assert response.status_code == 200, response.text
    return response.json()


def listing_ids(api: httpx.Client, test_id: str) -> tuple[list[str], list[str], int]:
    """(page 1 IDs, page 2 IDs, totalCount) of a newest-first listing in pages of 500."""
    first, second = listed(api, test_id), listed(api, test_id, offset=500)
    ids = [[s["sessionId"] for s in page["sessions"]] for page in (first, second)]
    return ids[0], ids[1], first["meta"]["pagination"]["totalCount"]


def control(sandbox: SandboxServer, action: str, **arguments: Any) -> Any:
    response = httpx.post(f"{sandbox.url}/_sandbox/{action}", json=arguments)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def session_statuses(api: httpx.Client, session_id: str) -> list[int]:
    paths = ("/api/v3/sessionResults/{}", "/api/v2/sessionResults/{}/transcript")
    paths += ("/api/v2/sessionResults/{}/videoDownloadUrl",)
    return [api.get(path.format(session_id)).status_code for path in paths]


def test_churn_between_syncs_over_http(start_sandbox: Callable[..., SandboxServer]) -> None:
    """The issue's scenario: two 600-session tests, 10 deleted, 2 new and 2 late arrivals each."""
    sandbox = start_sandbox(studies=BIG)
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        before = {t: listing_ids(api, t) for t in sandbox.test_ids}
        changes = control(sandbox, "churn", deleted=10, new=2, late=2)
        assert set(changes) == set(sandbox.test_ids)
        for test_id, change in changes.items():
            page1, page2, total = listing_ids(api, test_id)
            old_page1, old_page2, old_total = before[test_id]
            assert (old_total, total) == (600, 600 - 10 + 2 + 2)
            assert len(set(change["deleted"]) & set(old_page1 + old_page2)) == 10
            assert not set(change["deleted"]) & set(page1 + page2)
            assert set(page1[:2]) == set(change["new"])  # newest first
            assert set(change["late"]) <= set(page2)  # behind at least 500 newer sessions
            oldest_on_page1 = listed(api, test_id)["sessions"][-1]["finishTime"]
            late = [
                s for s in listed(api, test_id, offset=500)["sessions"] if s["sessionId"] in change["late"]
            ]
            assert all(s["finishTime"] < oldest_on_page1 for s in late)  # an old finishTime
            for session_id in change["deleted"][:2]:
                assert session_statuses(api, session_id) == [404, 404, 404]
    assert sandbox.server_errors == []


def test_same_seed_same_churn(start_sandbox: Callable[..., SandboxServer]) -> None:
    first, second = start_sandbox(studies=BIG), start_sandbox(studies=BIG)
    churn = first.churn(deleted=10, new=2, late=2)
    assert churn == second.churn(deleted=10, new=2, late=2)
    first.reset()
    assert first.churn(deleted=10, new=2, late=2) == churn


def test_late_arrivals_in_a_small_test_go_last(sandbox: SandboxServer, api: httpx.Client) -> None:
    test_id = sandbox.test_ids[0]
    [late] = sandbox.add_late_sessions(test_id, 1)
    sessions = listed(api, test_id)["sessions"]
    assert sessions[-1]["sessionId"] == late
    assert sessions[-1]["finishTime"] < min(s["finishTime"] or s["startTime"] for s in sessions[:-1])
    assert api.get(f"/api/v3/sessionResults/{late}").status_code == 200


def test_deleted_sessions_disappear_until_restored(
    start_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 12),), video_size_bytes=1000)
    test_id = sandbox.test_ids[0]
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        victim = next(
            r.session_id for r in sandbox.dataset.sessions(test_id) if r.has_video and r.transcript_available
        )
        link = api.get(f"/api/v2/sessionResults/{victim}/videoDownloadUrl").json()["videoUrl"]
        assert control(sandbox, "delete_sessions", session_ids=[victim]) == [victim]
        page = listed(api, test_id)
        assert page["meta"]["pagination"]["totalCount"] == 11
        assert victim not in {s["sessionId"] for s in page["sessions"]}
        assert session_statuses(api, victim) == [404, 404, 404]
        assert httpx.get(link).status_code == 404  # the object is gone from the video store too
        state = httpx.get(f"{sandbox.url}/_sandbox/state").json()["tests"][0]
        assert (state["total_count"], state["deleted_session_ids"]) == (11, [victim])
        assert control(sandbox, "restore_sessions") == [victim]
        assert session_statuses(api, victim) == [200, 200, 200]
        assert listed(api, test_id)["meta"]["pagination"]["totalCount"] == 12


@pytest.mark.parametrize("status", [404, 401])
def test_a_revoked_test_answers_on_every_endpoint(
    start_sandbox: Callable[..., SandboxServer], status: int
) -> None:
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 12), StudySpec(SURVEY, 3)))
    revoked, other = sandbox.test_ids
    session_id = next(r.session_id for r in sandbox.dataset.sessions(revoked) if r.transcript_available)
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        control(sandbox, "revoke_test", test_id=revoked, status=status)
        listing = api.get("/api/v2/sessionResults", params={"testId": revoked})
        qx = api.get(f"/api/v2/testResults/{revoked}/qxScores")
        assert [listing.status_code, qx.status_code] == [status, status]
        assert session_statuses(api, session_id) == [status] * 3
        assert listing.headers["x-ratelimit-limit"]  # answered by the API, after the rate limit
        assert listed(api, other)["meta"]["pagination"]["totalCount"] == 3
        sandbox.restore_test(revoked)
        assert session_statuses(api, session_id) == [200, 200, 200]


def test_reset_and_request_counts(sandbox: SandboxServer, api: httpx.Client) -> None:
    test_id = sandbox.test_ids[0]
    generated = sandbox.dataset.session_ids(test_id)
    session_id = generated[0]
    listed(api, test_id, limit=5)
    listed(api, test_id, limit=5, offset=5)
    api.get(f"/api/v3/sessionResults/{session_id}")
    api.get(f"/api/v2/sessionResults/{session_id}/transcript")
    api.get("/usertesting/api/v1/workspaces")
    expected = {"list_sessions": 2, "session_details": 1, "transcript": 1, "workspaces": 1}
    assert sandbox.request_counts() == expected
    served = httpx.get(f"{sandbox.url}/_sandbox/requests").json()
    assert served["by_endpoint"] == expected and served["total"] == 5  # admin calls are not counted
    sandbox.delete_sessions(test_id=test_id, count=3)
    sandbox.add_sessions(test_id, 2)
    sandbox.revoke_test(sandbox.test_ids[1])
    control(sandbox, "reset")
    assert sandbox.dataset.session_ids(test_id) == generated
    assert sandbox.request_counts() == {}
    assert listed(api, sandbox.test_ids[1], limit=1)["meta"]["pagination"]["totalCount"] > 0


@pytest.mark.parametrize(
    ("action", "arguments", "status"),
    [
        ("no_such_action", {}, 404),
        ("revoke_test", {"test_id": "00000000-0000-4000-8000-000000000000"}, 404),
        ("revoke_test", {"test_id": None, "status": 403}, 400),
        ("delete_sessions", {"count": 3}, 400),
        ("delete_sessions", {"session_ids": ["00000000-0000-4000-8000-000000000000"]}, 404),
        ("add_sessions", {"wrong": 1}, 400),
    ],
)
def test_admin_routes_refuse_bad_requests(
    sandbox: SandboxServer, action: str, arguments: dict[str, Any], status: int
) -> None:
    if arguments.get("test_id", "") is None:
        arguments["test_id"] = sandbox.test_ids[0]
    response = httpx.post(f"{sandbox.url}/_sandbox/{action}", json=arguments)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert sandbox.dataset.deleted_session_ids() == [] and sandbox.server_errors == []

"""The sandbox's HTTP behaviour: tokens, 401s, the rate limit, validation, 404s, faults, the request log."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dagster_usertesting.testing import SandboxConfig, SandboxServer

FORM = {"grant_type": "client_credentials", "client_id": "sandbox-client", "client_secret": "sandbox-secret"}


def listing(client: httpx.Client, test_id: str, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return client.get("/api/v2/sessionResults", params={"testId": test_id, **params}, headers=headers)


def test_token_endpoint_issues_tokens(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.url) as client:
        posted = client.post(sandbox.token_url, data={**FORM, "scope": "studies:read"})
        body = posted.json()
        assert (
            body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "studies:read"
        )
        assert posted.headers["cache-control"] == "no-store"
        client.headers["Authorization"] = f"Bearer {body['access_token']}"
        assert listing(client, sandbox.test_ids[0], limit=1).status_code == 200
    # Token calls are logged apart: `requests` holds API calls only.
    assert len(sandbox.token_requests) == 1
    assert [r["credential"] for r in sandbox.requests] == ["client:sandbox-client"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({**FORM, "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({**FORM, "client_id": "someone-else"}, 401, "invalid_client"),
        ({**FORM, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({k: v for k, v in FORM.items() if k != "grant_type"}, 400, "unsupported_grant_type"),
        ({**FORM, "scope": "admin"}, 400, "invalid_scope"),
    ],
)
def test_token_endpoint_refuses_bad_requests(
    sandbox: SandboxServer, form: dict, status: int, error: str
) -> None:
    with httpx.Client() as client:
        response = client.post(sandbox.token_url, data=form)
        assert (response.status_code, response.json()["error"]) == (status, error)


def test_missing_wrong_and_expired_tokens_get_401_and_cost_nothing(
    start_sandbox: Callable[..., SandboxServer], token_of: Callable[..., str]
) -> None:
    sandbox = start_sandbox(token_lifetime_seconds=0, requests_per_window=2)
    expired = token_of(sandbox)
    test_id = sandbox.test_ids[0]
    with httpx.Client(base_url=sandbox.url) as client:
        for headers in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": f"Bearer {expired}"},
            {"Authorization": "Bearer"},
            {"Authorization": f"Basic {sandbox.static_token}"},
        ):
            response = client.get("/api/v2/sessionResults", params={"testId": test_id}, headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["statusCode"] == 401
        v1 = client.get("/usertesting/api/v1/workspaces")
        assert v1.status_code == 401 and v1.json()["errorCode"] == "UNAUTHORIZED"
        good = {"Authorization": f"bearer {sandbox.static_token}"}  # the scheme is case-insensitive
        statuses = [
            client.get("/api/v2/sessionResults", params={"testId": test_id}, headers=good).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 429]
    assert [r["credential"] for r in sandbox.requests][-3:] == ["static:0"] * 3
    assert all(r["credential"] is None for r in sandbox.requests[:6])


def test_revoked_tokens_get_401(sandbox: SandboxServer, token_of: Callable[..., str]) -> None:
    issued = token_of(sandbox)
    with httpx.Client(base_url=sandbox.url) as client:
        assert listing(client, sandbox.test_ids[0], token=issued).status_code == 200
        sandbox.revoke_tokens()
        assert listing(client, sandbox.test_ids[0], token=issued).status_code == 401
        assert listing(client, sandbox.test_ids[0], token=sandbox.static_token).status_code == 200
        assert listing(client, sandbox.test_ids[0], token=token_of(sandbox)).status_code == 200


def test_rate_limit_is_per_credential(
    start_sandbox: Callable[..., SandboxServer], token_of: Callable[..., str]
) -> None:
    sandbox = start_sandbox(requests_per_window=3)
    first, second = token_of(sandbox), token_of(sandbox)  # two tokens of one client share a budget
    with httpx.Client(base_url=sandbox.url) as client:
        answers = [
            listing(client, sandbox.test_ids[0], token=t) for t in (first, second, first, second, second)
        ]
        assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
        assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0", "0"]
        limited = answers[-1]
        assert (
            limited.headers["x-ratelimit-limit"] == "3"
            and 0 < int(limited.headers["x-ratelimit-reset"]) <= 60
        )
        assert "retry-after" not in limited.headers
        assert "3 requests per 60 seconds" in limited.json()["message"]
        # A static token is a credential of its own.
        assert listing(client, sandbox.test_ids[0], token=sandbox.static_token).status_code == 200
    assert [r["status"] for r in sandbox.requests] == [200, 200, 200, 429, 429, 200]


def test_rate_limit_window_reopens_after_the_reset_header(
    start_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = start_sandbox(requests_per_window=1, window_seconds=1.0)
    with httpx.Client(base_url=sandbox.url) as client:
        opened = listing(client, sandbox.test_ids[0], token=sandbox.static_token)
        assert opened.headers["x-ratelimit-remaining"] == "0"
        time.sleep(int(opened.headers["x-ratelimit-reset"]))
        again = listing(client, sandbox.test_ids[0], token=sandbox.static_token)
        assert again.status_code == 200 and again.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "limit must not be less than 1"),
        ({"limit": 501}, "limit must not be greater than 500"),
        ({"limit": "ten"}, "limit must be an integer number"),
        ({"limit": 2.5}, "limit must be an integer number"),
        ({"offset": -1}, "offset must not be less than 0"),
        ({"offset": 10001}, "offset must not be greater than 10000"),
        ({"testId": "12345"}, "testId must be a UUID"),
        ({"testId": ""}, "testId should not be empty"),
    ],
)
def test_listing_rejects_out_of_range_parameters(
    sandbox: SandboxServer, api: httpx.Client, params: dict, message: str
) -> None:
    response = api.get("/api/v2/sessionResults", params={"testId": sandbox.test_ids[0], **params})
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert response.headers["x-ratelimit-limit"]


def test_listing_limits_and_defaults(sandbox: SandboxServer, api: httpx.Client) -> None:
    test_id = sandbox.test_ids[2]
    assert len(listing(api, test_id).json()["sessions"]) == 25  # default limit
    edge = listing(api, test_id, limit=500, offset=10000).json()
    assert edge["sessions"] == [] and edge["meta"]["pagination"] == {
        "limit": 500,
        "offset": 10000,
        "totalCount": 30,
    }
    assert listing(api, test_id.upper(), limit=1).json()["testId"] == test_id


def test_not_found_and_bad_ids(sandbox: SandboxServer, api: httpx.Client) -> None:
    think_aloud, interaction, survey, _ = sandbox.test_ids
    survey_session = sandbox.dataset.session_ids(survey)[0]
    interaction_session = sandbox.dataset.session_ids(interaction)[0]
    unknown = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    not_found = [
        f"/api/v2/sessionResults?testId={unknown}",
        f"/api/v3/sessionResults/{unknown}",
        f"/api/v2/sessionResults/{unknown}/transcript",
        f"/api/v2/sessionResults/{unknown}/videoDownloadUrl",
        f"/api/v2/sessionResults/{survey_session}/transcript",
        f"/api/v2/sessionResults/{survey_session}/videoDownloadUrl",
        f"/api/v2/sessionResults/{interaction_session}/transcript",
        f"/api/v2/testResults/{survey}/qxScores",
        f"/api/v2/testResults/{think_aloud}/qxScores",
        f"/api/v2/testResults/{unknown}/qxScores",
        f"/usertesting/api/v1/workspaces/{unknown}",
        "/api/v2/somethingElse",
        "/",
    ]
    for path in not_found:
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "private, no-store"
    assert api.post("/api/v2/sessionResults").json()["statusCode"] == 404
    for path in (
        "/api/v3/sessionResults/abc",
        "/api/v2/sessionResults/abc/transcript",
        "/api/v2/testResults/abc/qxScores",
    ):
        assert api.get(path).json() == {
            "statusCode": 400,
            "message": "Validation failed (uuid is expected)",
            "error": "Bad Request",
        }


def test_injected_faults_follow_the_seed(start_sandbox: Callable[..., SandboxServer]) -> None:
    def outcomes(sandbox: SandboxServer) -> list[Any]:
        seen: list[Any] = []
        with httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
        ) as c:
            for _ in range(24):
                try:
                    response = listing(c, sandbox.test_ids[0], limit=1)
                except httpx.TransportError:
                    seen.append("drop")
                    continue
                seen.append(response.status_code)
                if response.status_code in (502, 503):
                    assert response.headers["content-type"] == "text/html"
                    assert "x-ratelimit-limit" not in response.headers
        return seen

    first = outcomes(start_sandbox(error_rate=1.0, seed=11))
    assert set(first) == {500, 502, 503, "drop"}
    assert outcomes(start_sandbox(error_rate=1.0, seed=11)) == first
    half = outcomes(start_sandbox(error_rate=0.5, seed=11))
    assert 200 in half and len(set(half)) > 1


def test_malformed_details(start_sandbox: Callable[..., SandboxServer]) -> None:
    sandbox = start_sandbox()
    broken = sandbox.dataset.session_ids(sandbox.test_ids[0])[3]
    sandbox.config.malformed_session_ids = frozenset({broken})
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
    ) as api:
        response = api.get(f"/api/v3/sessionResults/{broken}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_request_log_names_credentials_never_secrets(
    sandbox: SandboxServer, token_of: Callable[..., str]
) -> None:
    token = token_of(sandbox)
    with httpx.Client(base_url=sandbox.url) as client:
        listing(client, sandbox.test_ids[0], limit=2)
        client.get(
            "/api/v2/sessionResults",
            params={"testId": sandbox.test_ids[0], "limit": 2},
            headers={"Authorization": f"Bearer {token}"},
        )
    records = sandbox.requests
    assert [(r["status"], r["credential"]) for r in records] == [(401, None), (200, "client:sandbox-client")]
    assert records[1]["query"] == {"testId": sandbox.test_ids[0], "limit": "2"}
    assert records[0]["time"] <= records[1]["time"] and records[1]["method"] == "GET"
    assert token not in repr(records) and "sandbox-secret" not in repr(sandbox.token_requests)
    sandbox.reset_requests()
    assert sandbox.requests == [] and sandbox.token_requests == []


def test_stop_closes_open_connections_promptly() -> None:
    sandbox = SandboxServer(SandboxConfig(), port=0).start()
    try:
        idle = socket.create_connection(("127.0.0.1", sandbox.port))  # a keep-alive client that never speaks
        with httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
        ) as api:
            assert listing(api, sandbox.test_ids[0], limit=1).status_code == 200
            threads_before = threading.active_count()
            started = time.monotonic()
            sandbox.stop()
            assert time.monotonic() - started < 2
            assert threading.active_count() < threads_before
            with pytest.raises(httpx.TransportError):
                listing(api, sandbox.test_ids[0], limit=1)
        idle.close()
    finally:
        sandbox.stop()  # idempotent

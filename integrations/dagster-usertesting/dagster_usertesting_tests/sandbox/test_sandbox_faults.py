"""Scripted faults and per-request behaviour fields, as the real client meets them: empty, short,
miscounted and renamed listing answers, a deletion between two pages of a walk, transient 404s,
endpoints that keep answering 503, revocation between two steps. Each knob is driven both in process
(SandboxServer methods, client in process) and over HTTP (POST /_sandbox/<method>, client over a socket)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.errors import (
    UserTestingAuthError,
    UserTestingNotFoundError,
    UserTestingUnavailableError,
)
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, SandboxServer, StudySpec

TOL = StudySpec(THINK_OUT_LOUD, 30)


@dataclass
class Rig:
    sandbox: SandboxServer
    client: UserTestingClient
    over_http: bool

    @property
    def test_id(self) -> str:
        return self.sandbox.test_ids[0]

    def control(self, action: str, **arguments: Any) -> Any:
        """A sandbox control, called as a pipeline test in this process or another process would."""
        if self.over_http:
            response = httpx.post(f"{self.sandbox.url}/_sandbox/{action}", json=arguments)
            assert response.status_code == 200, response.text
            return response.json()["result"]
        if action == "listing_faults":
            return self.sandbox.listing_faults(arguments["test_id"], *arguments["faults"])
        return getattr(self.sandbox, action)(**arguments)

    def statuses(self, endpoint: str) -> list[int | None]:
        return [r["status"] for r in self.sandbox.requests if r["endpoint"] == endpoint]


@pytest.fixture(params=["in_process", "over_http"])
def make_rig(
    request: pytest.FixtureRequest,
    start_sandbox: Callable[..., SandboxServer],
    sandbox_resource: Callable[..., UserTestingResource],
    api_resource: Callable[..., UserTestingResource],
) -> Callable[..., Rig]:
    over_http = request.param == "over_http"

    def make(studies: tuple[StudySpec, ...] = (TOL,), page_size: int = 10, **config: Any) -> Rig:
        sandbox = start_sandbox(studies=studies, **config)
        build = api_resource if over_http else sandbox_resource
        client = build(sandbox, page_size=page_size, max_retries=2).get_client()
        return Rig(sandbox, client, over_http)

    return make


def walk(rig: Rig, pages: int) -> tuple[list[list[str]], int | None]:
    """The first `pages` pages of the client's listing walk: the new IDs each brought, and the last
    totalCount the client read."""
    listing = rig.client.list_sessions(rig.test_id)
    seen = [[s["sessionId"] for s in page] for page in itertools.islice(listing.pages(), pages)]
    return seen, listing.progress.total_count


# -- the listing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "served", "total"),
    [
        ("ok", 10, 30),
        ("empty", 0, 0),
        ("empty_keep_count", 0, 30),
        ("short", 5, 30),
        ("count_low", 10, 29),
        ("count_high", 10, 31),
        ("renamed", 10, 30),  # each keyed "id"
    ],
)
def test_each_listing_fault_changes_one_answer(
    start_sandbox: Callable[..., SandboxServer], fault: str, served: int, total: int
) -> None:
    sandbox = start_sandbox(studies=(TOL,))
    test_id, truth = sandbox.test_ids[0], sandbox.dataset.session_ids(sandbox.test_ids[0])
    assert sandbox.listing_faults(test_id, fault) == [fault]
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        pages = [
            api.get("/api/v2/sessionResults", params={"testId": test_id, "limit": 10}).json()
            for _ in range(2)
        ]
    faulty, after = pages
    key = "id" if fault == "renamed" else "sessionId"
    assert [s[key] for s in faulty["sessions"]] == truth[:served]
    assert all(set(s) == set(after["sessions"][0]) - {"sessionId"} | {key} for s in faulty["sessions"])
    assert faulty["meta"]["pagination"]["totalCount"] == total
    assert [s["sessionId"] for s in after["sessions"]] == truth[:10]  # consumed: one answer only
    assert after["meta"]["pagination"]["totalCount"] == 30
    assert sandbox.server_errors == []


def test_listing_faults_are_consumed_in_order_by_the_walk(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    truth = rig.sandbox.dataset.session_ids(rig.test_id)
    rig.control("listing_faults", test_id=rig.test_id, faults=["ok", "short"])
    pages, total = walk(rig, 2)
    assert pages == [truth[:10], truth[10:15]]  # page 2 came short
    assert total == 30
    assert rig.client.probe_listing(rig.test_id).newest_session_id == truth[0]  # then served normally
    rig.control("listing_faults", test_id=rig.test_id, faults=["empty"])
    probe = rig.client.probe_listing(rig.test_id)
    assert (probe.total_count, probe.newest_session_id) == (0, None)
    assert rig.statuses("list_sessions") == [200] * 4  # a fault is an ordinary answer in the log


def test_renamed_and_miscounted_listing_by_configuration(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    newest = rig.sandbox.dataset.session_ids(rig.test_id)[0]
    assert rig.control("configure", listing_count_bias=-10) == {"listing_count_bias": -10}
    assert rig.client.probe_listing(rig.test_id).total_count == 20
    rig.control("configure", listing_count_bias=-100)  # never below 0
    assert rig.client.probe_listing(rig.test_id).total_count == 0
    rig.control("configure", listing_count_bias=0, listing_session_field="id")
    probe = rig.client.probe_listing(rig.test_id)
    assert (probe.total_count, probe.newest_session_id) == (30, None)  # every item skipped
    rig.sandbox.config.listing_session_field = "sessionId"  # or set in process, on a running sandbox
    assert rig.client.probe_listing(rig.test_id).newest_session_id == newest


def test_a_deletion_between_two_pages_of_a_walk(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    truth = rig.sandbox.dataset.session_ids(rig.test_id)
    rig.control("delete_after_page", test_id=rig.test_id, page=1, count=5)
    pages, total = walk(rig, 2)
    # Page 1's five newest went after it was served: offsets shifted, so page 2 skips five live ones.
    assert pages == [truth[:10], truth[15:25]]
    assert total == 25
    assert rig.sandbox.dataset.deleted_session_ids(rig.test_id) == truth[:5]
    assert rig.sandbox.dataset.session_ids(rig.test_id) == truth[5:]
    assert walk(rig, 1)[0] == [truth[5:15]]  # nothing else deleted afterwards


def test_page_deletion_counts_every_listing_request_of_the_test(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(studies=(TOL, StudySpec(SURVEY, 4)))
    truth = rig.sandbox.dataset.session_ids(rig.test_id)
    rig.control("delete_after_page", test_id=rig.test_id, page=2, count=3)
    rig.client.probe_listing(rig.test_id)  # listing request 1 (limit=1, offset 0)
    rig.client.probe_listing(rig.sandbox.test_ids[1])  # another test's: not counted
    assert rig.sandbox.dataset.deleted_session_ids() == []
    pages, total = walk(rig, 1)  # listing request 2
    assert (pages, total) == ([truth[:10]], 30)  # the page served as it was, then the deletion
    assert rig.sandbox.dataset.deleted_session_ids() == truth[:3]


# -- per-session endpoints -----------------------------------------------------------------------


def test_a_transient_404_on_details_then_served(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    session_id = rig.sandbox.dataset.session_ids(rig.test_id)[3]
    rig.control("transient_not_found", session_id=session_id, times=2)
    for _ in range(2):
        with pytest.raises(UserTestingNotFoundError):
            rig.client.get_session_details(session_id)
    assert rig.client.get_session_details(session_id) == rig.sandbox.dataset.payload(session_id)
    assert rig.statuses("session_details") == [404, 404, 200]  # logged, never retried by the client
    assert rig.sandbox.dataset.deleted_session_ids() == []  # it was never really gone


def test_a_transient_404_on_the_transcript_and_the_video_link(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    dataset = rig.sandbox.dataset
    session_id = next(
        r.session_id for r in dataset.sessions(rig.test_id) if r.has_video and r.transcript_available
    )
    rig.control("transient_not_found", session_id=session_id, endpoint="transcript")
    rig.control("transient_not_found", session_id=session_id.upper(), endpoint="video_download_url")
    assert rig.client.get_transcript(session_id) is None  # what a 404 means to the client: none (yet)
    assert rig.client.get_transcript(session_id) == dataset.transcript(session_id)
    assert rig.client.get_video_download_url(session_id) is None
    assert rig.client.get_video_download_url(session_id) is not None
    assert rig.statuses("transcript") == rig.statuses("video_download_url") == [404, 200]
    assert rig.client.get_session_details(session_id)  # the other endpoints were untouched


def test_endpoints_that_keep_answering_503(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    dataset = rig.sandbox.dataset
    broken, healthy = [
        r.session_id for r in dataset.sessions(rig.test_id) if r.has_video and r.transcript_available
    ][:2]
    rig.control("configure", failing_transcript_ids=[broken.upper()], failing_video_ids=[broken])
    with pytest.raises(UserTestingUnavailableError):
        rig.client.get_transcript(broken)
    with pytest.raises(UserTestingUnavailableError):
        rig.client.get_video_download_url(broken)
    assert rig.statuses("transcript") == rig.statuses("video_download_url") == [503] * 3  # 2 retries
    assert rig.client.get_transcript(healthy) == dataset.transcript(healthy)
    assert rig.client.get_video_download_url(healthy) is not None
    assert rig.client.get_session_details(broken) == dataset.payload(broken)  # details still served


@pytest.mark.parametrize(("status", "error"), [(404, UserTestingNotFoundError), (401, UserTestingAuthError)])
def test_revoked_between_the_listing_and_the_details(
    make_rig: Callable[..., Rig], status: int, error: type[Exception]
) -> None:
    rig = make_rig(studies=(TOL, StudySpec(SURVEY, 4)))
    dataset = rig.sandbox.dataset
    first, second = dataset.session_ids(rig.test_id)[:2]
    other = dataset.session_ids(rig.sandbox.test_ids[1])[0]
    rig.control("revoke_after", test_id=rig.test_id, requests=3, status=status)
    rig.client.probe_listing(rig.test_id)  # 1
    rig.client.get_session_details(other)  # 2: any test's request counts
    rig.client.get_session_details(first)  # 3: still served; the test is revoked right after it
    assert dataset.revoked_status(rig.test_id) == status
    with pytest.raises(error):
        rig.client.get_session_details(second)
    for fetch in (rig.client.get_transcript, rig.client.get_video_download_url):
        with pytest.raises(error) if status == 401 else contextlib.nullcontext():
            assert fetch(first) is None  # a 404 reads as "none there" on these two endpoints
    with pytest.raises(error):
        rig.client.probe_listing(rig.test_id)
    assert rig.client.get_session_details(other) == dataset.payload(other)  # other tests unaffected
    assert {r["status"] for r in rig.sandbox.requests[3:] if other not in r["path"]} == {status}


# -- how faults meet the gate, the state and reset ---------------------------------------------------


def test_faults_are_logged_rate_limited_and_not_consumed_by_a_429(
    start_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = start_sandbox(studies=(TOL,), requests_per_window=2, window_seconds=600)
    test_id, session_id = sandbox.test_ids[0], sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    sandbox.listing_faults(test_id, "empty")
    sandbox.transient_not_found(session_id, times=2)
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        listing = api.get("/api/v2/sessionResults", params={"testId": test_id})
        details = [api.get(f"/api/v3/sessionResults/{session_id}") for _ in range(2)]
    assert listing.json()["sessions"] == [] and listing.headers["x-ratelimit-remaining"] == "1"
    assert [r.status_code for r in details] == [404, 429]
    assert details[0].headers["x-ratelimit-remaining"] == "0"  # the fault spent budget
    assert [r["status"] for r in sandbox.requests] == [200, 404, 429]
    pending = httpx.get(f"{sandbox.url}/_sandbox/state").json()["pending_faults"]
    assert pending["transient_not_found"] == [
        {"endpoint": "session_details", "session_id": session_id, "times": 1}  # the 429 took none
    ]


def test_state_shows_pending_faults_and_reset_drops_them(start_sandbox: Callable[..., SandboxServer]) -> None:
    sandbox = start_sandbox(studies=(TOL,))
    test_id = sandbox.test_ids[0]
    session_id = sandbox.dataset.session_ids(test_id)[0]
    sandbox.listing_faults(test_id, "empty", "ok")
    sandbox.delete_after_page(test_id)
    sandbox.transient_not_found(session_id)
    sandbox.revoke_after(test_id, 5, status=401)
    pending = httpx.get(f"{sandbox.url}/_sandbox/state").json()["pending_faults"]
    assert pending == {
        "listing_faults": {test_id: ["empty", "ok"]},
        "delete_after_page": [{"test_id": test_id, "pages_left": 1, "count": 5}],
        "transient_not_found": [{"endpoint": "session_details", "session_id": session_id, "times": 1}],
        "revoke_after": [{"test_id": test_id, "requests_left": 5, "status": 401, "endpoint": None}],
    }
    sandbox.reset()
    assert all(not queued for queued in sandbox.app.faults.pending().values())
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    for _ in range(6):
        page = httpx.get(
            f"{sandbox.url}/api/v2/sessionResults", params={"testId": test_id}, headers=headers
        ).json()
        assert page["meta"]["pagination"]["totalCount"] == 30
    assert sandbox.dataset.revoked_status(test_id) is None


def test_revoked_right_after_the_next_listing_answer(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    dataset = rig.sandbox.dataset
    first, second = dataset.session_ids(rig.test_id)[:2]
    rig.control("revoke_after", test_id=rig.test_id, requests=1, endpoint="list_sessions")
    for _ in range(3):  # however many other requests come first
        assert rig.client.get_session_details(first) == dataset.payload(first)
    pages, _ = walk(rig, 1)
    assert pages == [dataset.session_ids(rig.test_id)[:10]]  # the listing itself is served
    with pytest.raises(UserTestingNotFoundError):
        rig.client.get_session_details(second)
    assert rig.statuses("session_details") == [200, 200, 200, 404]


def test_revoke_after_zero_revokes_now(sandbox: SandboxServer) -> None:
    sandbox.revoke_after(sandbox.test_ids[0], 0)
    assert sandbox.dataset.revoked_status(sandbox.test_ids[0]) == 404


@pytest.mark.parametrize(
    ("action", "arguments", "status"),
    [
        ("listing_faults", {"test_id": None, "faults": ["empty", "sideways"]}, 400),
        ("listing_faults", {"test_id": "00000000-0000-4000-8000-000000000000", "faults": ["empty"]}, 404),
        ("delete_after_page", {"test_id": None, "page": 0}, 400),
        ("transient_not_found", {"session_id": "00000000-0000-4000-8000-000000000000"}, 404),
        ("transient_not_found", {"session_id": None, "endpoint": "qx_scores"}, 400),
        ("transient_not_found", {"session_id": None, "times": "2"}, 400),
        ("revoke_after", {"test_id": None, "requests": 3, "status": 403}, 400),
        ("revoke_after", {"test_id": None, "requests": -1}, 400),
        ("revoke_after", {"test_id": None, "requests": 1, "endpoint": "listing"}, 400),
        ("configure", {"seed": 4}, 400),  # a data field: the dataset was built from it
        ("configure", {"no_such_field": 1}, 400),
        ("configure", {"listing_count_bias": "-100"}, 400),
        ("configure", {"failing_transcript_ids": [1]}, 400),
        ("configure", {"listing_session_field": ""}, 400),
    ],
)
def test_fault_routes_refuse_bad_requests(
    sandbox: SandboxServer, action: str, arguments: dict[str, Any], status: int
) -> None:
    test_id = sandbox.test_ids[0]
    for name, value in {"test_id": test_id, "session_id": sandbox.dataset.session_ids(test_id)[0]}.items():
        if name in arguments and arguments[name] is None:
            arguments[name] = value
    response = httpx.post(f"{sandbox.url}/_sandbox/{action}", json=arguments)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert all(not queued for queued in sandbox.app.faults.pending().values())
    assert (sandbox.config.listing_count_bias, sandbox.config.listing_session_field) == (0, "sessionId")
    assert sandbox.server_errors == []

"""Requests counted per credential, endpoint and UTC day in the shared rate-limit store (SQLite file
and a Redis-protocol server), as the sandbox logged them."""

from collections import Counter
from pathlib import Path

import pytest

from dagster_usertesting.lib.usertesting_api.errors import BudgetUnavailableError
from dagster_usertesting.lib.usertesting_api.stats import ENDPOINTS
from dagster_usertesting.lib.usertesting_api.usage import utc_today
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "rate-limit.sqlite")
    return request.getfixturevalue("redis_url")


def _counted(resource) -> dict[str, int]:
    days = resource.daily_requests_per_credential(utc_today())
    mine = [d for d in days if d.credential == resource.credential_label()]
    return dict(sum((Counter(d.requests) for d in mine), Counter()))


def test_requests_of_every_client_sharing_the_store_are_counted_per_endpoint(
    start_sandbox, api_resource, store
):
    # Two clients (as two processes would) on one credential and store: a listing, details, a
    # transcript a survey does not have (404: still a request) and the workspace list.
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 2), StudySpec(SURVEY, 1)))
    first = api_resource(sandbox, rate_limit_store=store).get_client()
    second_resource = api_resource(sandbox, rate_limit_store=store)
    second = second_resource.get_client()
    for session in first.list_sessions(sandbox.test_ids[0]):
        first.get_session_details(session["sessionId"])
        second.get_transcript(session["sessionId"])
    survey_session = sandbox.dataset.session_ids(sandbox.test_ids[1])[0]
    assert second.get_transcript(survey_session) is None
    list(second.list_workspace_tests())

    logged = Counter(r["endpoint"] for r in sandbox.requests)
    assert _counted(second_resource) == dict(logged)
    assert set(logged) == {"list_sessions", "session_details", "transcript", "workspaces"}


def test_a_429_is_counted_as_a_request_and_as_rate_limited(start_sandbox, api_resource, tmp_path, store):
    # Another host spends the credential's window without sharing our store: our next request is
    # answered 429, and both the request and the 429 are counted.
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 3),), requests_per_window=2, window_seconds=60)
    session_ids = sandbox.dataset.session_ids(sandbox.test_ids[0])
    elsewhere = api_resource(sandbox, rate_limit_store=str(tmp_path / "other-host.sqlite")).get_client()
    elsewhere.get_session_details(session_ids[0])
    elsewhere.get_session_details(session_ids[1])
    resource = api_resource(sandbox, rate_limit_store=store)
    with pytest.raises(BudgetUnavailableError):
        resource.get_client(max_budget_wait=0).get_session_details(session_ids[2])

    assert [r["status"] for r in sandbox.requests] == [200, 200, 429]
    [today] = [
        d
        for d in resource.daily_requests_per_credential(utc_today())
        if d.credential == resource.credential_label()
    ]
    assert today.requests == {"session_details": 1} and today.rate_limited == 1


def test_each_credential_is_counted_apart_under_a_name_that_is_not_the_credential(
    start_sandbox, api_resource, tmp_path
):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1),))
    store = str(tmp_path / "rate-limit.sqlite")
    by_client = api_resource(sandbox, rate_limit_store=store)
    by_token = api_resource(
        sandbox, rate_limit_store=store, client_id=None, client_secret=None, access_token=sandbox.static_token
    )
    by_client.get_client().probe_listing(sandbox.test_ids[0])
    by_token.get_client().probe_listing(sandbox.test_ids[0])
    by_token.get_client().probe_listing(sandbox.test_ids[0])

    days = by_client.daily_requests_per_credential(utc_today())
    assert {d.credential: d.total for d in days} == {
        by_client.credential_label(): 1,
        by_token.credential_label(): 2,
    }
    secrets = (sandbox.config.client_id, sandbox.config.client_secret, sandbox.static_token)
    stored = Path(store).read_bytes() + b"".join(p.read_bytes() for p in Path(store).parent.glob("*-wal"))
    labels = " ".join(d.credential for d in days)
    for secret in secrets:
        assert secret.encode() not in stored and secret not in labels


def test_a_step_names_every_endpoint_even_those_it_did_not_use(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 2),))
    client = api_resource(sandbox).get_client()
    before = client.stats.snapshot()
    for session in client.list_sessions(sandbox.test_ids[0]):
        client.get_session_details(session["sessionId"])

    spent = client.stats.since(before).as_metadata()

    assert spent["api_requests"] == 3
    assert spent["api_requests_by_endpoint"] == {
        **dict.fromkeys(ENDPOINTS, 0),
        "list_sessions": 1,
        "session_details": 2,
    }
    # Only the total and the budget wait are numbers (plotted); per-endpoint counts are not.
    numeric = {k for k, v in spent.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    assert numeric == {"api_requests", "api_budget_wait_seconds"}

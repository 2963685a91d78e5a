"""The UserTesting resource against the sandbox over real HTTP on 127.0.0.1."""

import logging
import subprocess
import sys
import textwrap

import pytest

from dagster_usertesting.lib.ids import InvalidIdError
from dagster_usertesting.lib.usertesting_api.client import ListingProbe
from dagster_usertesting.lib.usertesting_api.errors import (
    BudgetUnavailableError,
    UserTestingAuthError,
    UserTestingConfigError,
    UserTestingNotFoundError,
)
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec

UNKNOWN_TEST = "00000000-0000-4000-8000-000000000000"


def listing_requests(sandbox):
    return [r for r in sandbox.requests if r["path"] == "/api/v2/sessionResults"]


def test_lists_every_session_across_pages_of_500(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1203),))
    client = api_resource(sandbox).get_client()
    test_id = sandbox.test_ids[0]

    listing = client.list_sessions(test_id)
    ids = [s["sessionId"] for s in listing]

    assert len(ids) == len(set(ids)) == 1203
    assert set(ids) == set(sandbox.dataset.session_ids(test_id))
    assert listing.progress.total_count == 1203
    pages = [(r["query"]["limit"], r["query"]["offset"]) for r in listing_requests(sandbox)]
    assert pages == [("500", "0"), ("500", "500"), ("500", "1000")]


def test_sessions_arriving_while_paging_are_listed_once(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 45),), arrivals_per_list_request=3)
    test_id = sandbox.test_ids[0]
    before = set(sandbox.dataset.session_ids(test_id))
    client = api_resource(sandbox, page_size=10).get_client()

    listing = client.list_sessions(test_id)
    ids = [s["sessionId"] for s in listing]

    assert len(ids) == len(set(ids))
    assert before <= set(ids)  # nothing that existed when we started is missed
    assert listing.progress.duplicates > 0  # the shift really happened


def test_stop_when_ends_paging_early(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 30),))
    client = api_resource(sandbox, page_size=10).get_client()

    ids = [s["sessionId"] for s in client.list_sessions(sandbox.test_ids[0], stop_when=lambda progress: True)]

    assert len(ids) == 10
    assert len(listing_requests(sandbox)) == 1


def test_expired_token_is_renewed_once_and_the_call_succeeds(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 3),))
    client = api_resource(sandbox).get_client()
    session_ids = sandbox.dataset.session_ids(sandbox.test_ids[0])
    client.get_session_details(session_ids[0])

    sandbox.revoke_tokens()  # the server forgets the token our client still believes valid
    details = client.get_session_details(session_ids[1])

    assert details["sessionId"] == session_ids[1]
    statuses = [r["status"] for r in sandbox.requests]
    assert statuses == [200, 401, 200]
    assert len(sandbox.token_requests) == 2


def test_short_lived_tokens_are_reused_until_shortly_before_they_expire(start_sandbox, api_resource):
    # With 20 s tokens a fixed 120 s renewal margin fetched a token before every request (161 for 161).
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 5),), token_lifetime_seconds=20)
    client = api_resource(sandbox).get_client()
    for session_id in sandbox.dataset.session_ids(sandbox.test_ids[0]):
        client.get_session_details(session_id)
    assert [r["status"] for r in sandbox.requests] == [200] * 5
    assert len(sandbox.token_requests) == 1


def test_resources_built_anew_for_each_tick_or_step_reuse_the_process_token(start_sandbox, api_resource):
    # Dagster builds resources for every sensor tick and run step: a token each was 1,440 a day.
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 3),))
    for session_id in sandbox.dataset.session_ids(sandbox.test_ids[0]):
        resource = api_resource(sandbox)
        resource.get_client().get_session_details(session_id)
        resource.close()
    assert [r["status"] for r in sandbox.requests] == [200] * 3
    assert len(sandbox.token_requests) == 1

    sandbox.revoke_tokens()  # one refusal drops the process's token: the next resource fetches anew
    api_resource(sandbox).get_client().get_session_details(
        sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    )
    assert [r["status"] for r in sandbox.requests][3:] == [401, 200]
    assert len(sandbox.token_requests) == 2
    api_resource(sandbox).get_client().get_session_details(
        sandbox.dataset.session_ids(sandbox.test_ids[0])[1]
    )
    assert [r["status"] for r in sandbox.requests][5:] == [200]
    assert len(sandbox.token_requests) == 2


def test_token_is_renewed_before_it_expires(start_sandbox, api_resource):
    # Requests at least 1 s apart (the limiter) with 1 s tokens: each needs a new token, and gets it
    # after waiting for budget and before it is sent, so the API never answers 401.
    sandbox = start_sandbox(
        studies=(StudySpec(SURVEY, 3),), token_lifetime_seconds=1, requests_per_window=1, window_seconds=0.5
    )
    client = api_resource(sandbox).get_client()
    for session_id in sandbox.dataset.session_ids(sandbox.test_ids[0]):
        client.get_session_details(session_id)
    assert [r["status"] for r in sandbox.requests] == [200] * 3
    assert len(sandbox.token_requests) == 3


def test_refused_credentials_raise_clear_errors_without_secrets(start_sandbox, api_resource, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 2),))
    session_id = sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    secret = "wrong-secret-6f1d2a"
    token = "static-token-9c4e1b"

    with pytest.raises(UserTestingAuthError) as bad_secret:
        api_resource(sandbox, client_secret=secret).get_client().get_session_details(session_id)
    with pytest.raises(UserTestingAuthError) as bad_token:
        api_resource(
            sandbox, client_id=None, client_secret=None, access_token=token
        ).get_client().get_session_details(session_id)

    assert "USERTESTING_CLIENT_SECRET" in str(bad_secret.value)
    # A ready-made token cannot be renewed: say so, and what to set instead.
    assert "USERTESTING_ACCESS_TOKEN" in str(bad_token.value)
    assert "expired or was revoked" in str(bad_token.value)
    assert "USERTESTING_CLIENT_ID" in str(bad_token.value)
    assert "even with a fresh" not in str(bad_token.value)
    for text in (str(bad_secret.value), str(bad_token.value), caplog.text):
        assert secret not in text and token not in text
        assert sandbox.config.client_secret not in text


def test_secrets_never_reach_logs_during_a_working_session(start_sandbox, api_resource, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 3),), error_rate=0.3, seed=11)
    client = api_resource(sandbox).get_client()
    for session_id in sandbox.dataset.session_ids(sandbox.test_ids[0]):
        client.get_session_details(session_id)
        client.get_transcript(session_id)
    issued = [t for t in client._transport._tokens.secrets]
    assert issued
    for value in [*issued, sandbox.config.client_secret]:
        assert value not in caplog.text


def test_limiter_keeps_the_client_free_of_429s(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 16),), requests_per_window=4, window_seconds=0.5)
    client = api_resource(sandbox).get_client()
    for session_id in sandbox.dataset.session_ids(sandbox.test_ids[0]):
        client.get_session_details(session_id)
    statuses = [r["status"] for r in sandbox.requests]
    assert statuses == [200] * 16
    assert client.stats.budget_wait_seconds > 0


def test_a_429_waits_for_the_window_instead_of_retrying_at_once(start_sandbox, api_resource):
    # The client believes it may send 50 per window; the server allows 4. It must not storm.
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 12),), requests_per_window=4, window_seconds=0.5)
    client = api_resource(sandbox, requests_per_minute=50).get_client()
    for session_id in sandbox.dataset.session_ids(sandbox.test_ids[0]):
        client.get_session_details(session_id)
    limited = [r for r in sandbox.requests if r["status"] == 429]
    assert client.stats.rate_limited_responses == len(limited)
    # At most one refused request per window: after a 429 the whole budget waits out the window.
    assert len(limited) <= 3


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_two_processes_sharing_a_credential_stay_under_the_limit_together(
    start_sandbox, tmp_path, store, request
):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 24),), requests_per_window=4, window_seconds=0.5)
    session_ids = sandbox.dataset.session_ids(sandbox.test_ids[0])
    script = textwrap.dedent(
        """
        import sys
        from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
        url, token_url, store, *ids = sys.argv[1:]
        resource = UserTestingResource(base_url=url, token_url=token_url, client_id="sandbox-client",
            client_secret="sandbox-secret", requests_per_minute=4, rate_window_seconds=0.5,
            rate_limit_store=store)
        client = resource.get_client()
        for session_id in ids:
            client.get_session_details(session_id)
        resource.close()
        """
    )
    location = str(tmp_path / "shared.sqlite") if store == "sqlite" else request.getfixturevalue("redis_url")
    args = [sys.executable, "-c", script, sandbox.url, sandbox.token_url, location]
    workers = [subprocess.Popen([*args, *session_ids[i::2]]) for i in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]

    assert [r["status"] for r in sandbox.requests] == [200] * 24
    times = sorted(r["time"] for r in sandbox.requests)
    busiest = max(sum(1 for t in times if start <= t < start + 0.5) for start in times)
    assert busiest <= 4


def test_server_errors_and_dropped_connections_are_retried(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 20),), error_rate=0.35, seed=5)
    client = api_resource(sandbox).get_client()
    test_id = sandbox.test_ids[0]
    for session_id in sandbox.dataset.session_ids(test_id):
        assert client.get_session_details(session_id) == sandbox.dataset.served_payload(session_id)
    failed = [r for r in sandbox.requests if r["status"] is None or r["status"] >= 500]
    assert any(r["status"] is None for r in failed) and any(r["status"] for r in failed)
    assert client.stats.retries == len(failed)


def test_missing_transcript_is_none_and_missing_test_says_which(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1), StudySpec(THINK_OUT_LOUD, 1)))
    client = api_resource(sandbox).get_client()
    survey, think_aloud = (sandbox.dataset.session_ids(t)[0] for t in sandbox.test_ids)

    assert client.get_transcript(survey) is None
    assert client.get_transcript(think_aloud) == sandbox.dataset.transcript(think_aloud)
    with pytest.raises(UserTestingNotFoundError, match=UNKNOWN_TEST):
        list(client.list_sessions(UNKNOWN_TEST))


@pytest.mark.parametrize(
    "hostile",
    [
        "../../etc/passwd",
        "x' OR '1'='1",
        "",
        "3fa85f64-5717-4562-b3fc-2c963f66afa6/../x",
        None,
        42,
        "3fa85f64-5717-4562-b3fc-2c963f66afa6\n",
        "%2e%2e%2f",
    ],
)
def test_hostile_ids_are_refused_before_any_request(start_sandbox, api_resource, hostile):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1),))
    client = api_resource(sandbox).get_client()
    calls = [
        lambda: list(client.list_sessions(hostile)),
        lambda: client.get_session_details(hostile),
        lambda: client.get_transcript(hostile),
        lambda: client.get_video_download_url(hostile),
        lambda: client.get_qx_scores(hostile),
    ]
    for call in calls:
        with pytest.raises(InvalidIdError, match="UUID"):
            call()
    assert sandbox.requests == [] and sandbox.token_requests == []


def test_sessions_beyond_offset_paging_are_reported(start_sandbox, api_resource, caplog):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 10_600),), requests_per_window=1000)
    client = api_resource(sandbox).get_client()
    test_id = sandbox.test_ids[0]

    listing = client.list_sessions(test_id)
    ids = [s["sessionId"] for s in listing]

    assert len(ids) == len(set(ids)) == 10_500
    assert listing.progress.unreachable == 100
    assert max(int(r["query"]["offset"]) for r in listing_requests(sandbox)) == 10_000
    assert f"Test {test_id} has 10600 sessions" in caplog.text
    assert "100 older sessions cannot be listed" in caplog.text


def test_workspace_tests_are_listed_through_the_legacy_api_each_once(start_sandbox, api_resource):
    # Some tests sit in several workspaces: `ut-dagster tests` showed them twice.
    sandbox = start_sandbox()
    studies = list(api_resource(sandbox).get_client().list_workspace_tests())
    uuids = [s["uuid"] for s in studies]
    assert set(sandbox.test_ids) <= set(uuids)
    assert len(uuids) == len(set(uuids))
    assert len({r["path"] for r in sandbox.requests}) > 2  # several workspaces were read
    assert all(r["path"].startswith("/usertesting/api/v1/workspaces") for r in sandbox.requests)


def test_a_server_that_serves_smaller_pages_than_asked_loses_nothing(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 250),), max_page_size=100)
    client = api_resource(sandbox).get_client()
    test_id = sandbox.test_ids[0]

    ids = [s["sessionId"] for s in client.list_sessions(test_id)]

    assert sorted(ids) == sorted(sandbox.dataset.session_ids(test_id))
    assert [r["query"]["offset"] for r in listing_requests(sandbox)] == ["0", "100", "200"]


def test_a_bounded_client_refuses_to_wait_longer_for_budget_than_allowed(start_sandbox, api_resource):
    # The sensor's ticks must end within Dagster's timeout: with a bound, a request whose budget is
    # further away than that raises at once, sends nothing and spends nothing.
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 3),), requests_per_window=2, window_seconds=60)
    resource = api_resource(sandbox)
    session_ids = sandbox.dataset.session_ids(sandbox.test_ids[0])
    bounded = resource.get_client(max_budget_wait=30)
    bounded.get_session_details(session_ids[0])
    resource.get_client().get_session_details(session_ids[1])

    with pytest.raises(BudgetUnavailableError, match="frees up in about") as refused:
        bounded.get_session_details(session_ids[2])

    assert "nothing was sent" in str(refused.value)
    assert len(sandbox.requests) == 2
    assert bounded.stats.total_requests == 2  # one client's counters, whatever the bound


def test_a_bounded_client_waits_for_budget_that_frees_up_within_the_bound(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 2),), requests_per_window=1, window_seconds=0.2)
    client = api_resource(sandbox).get_client(max_budget_wait=10)
    for session_id in sandbox.dataset.session_ids(sandbox.test_ids[0]):
        client.get_session_details(session_id)
    assert [r["status"] for r in sandbox.requests] == [200, 200]
    assert client.stats.budget_wait_seconds > 0


def test_a_listing_probe_costs_one_request_and_sees_new_sessions(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 30),))
    client = api_resource(sandbox).get_client()
    test_id = sandbox.test_ids[0]

    probe = client.probe_listing(test_id)
    newest = next(iter(client.list_sessions(test_id)))["sessionId"]
    assert probe == ListingProbe(total_count=30, newest_session_id=newest)
    assert listing_requests(sandbox)[0]["query"]["limit"] == "1"

    added = sandbox.add_sessions(test_id, 2)
    sandbox.reset_requests()
    later = client.probe_listing(test_id)
    assert later.total_count == 32 and later.newest_session_id in added
    assert len(sandbox.requests) == 1


def test_a_probe_of_a_test_without_sessions_has_no_newest(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 0),))
    probe = api_resource(sandbox).get_client().probe_listing(sandbox.test_ids[0])
    assert probe == ListingProbe(total_count=0, newest_session_id=None)


def test_a_classic_test_is_explained_instead_of_a_bare_404(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1),), legacy_studies=1)
    client = api_resource(sandbox).get_client()
    classic = next(s["uuid"] for s in client.list_workspace_tests() if s["type"] != "STUDYV2")
    sandbox.reset_requests()

    with pytest.raises(UserTestingNotFoundError) as not_found:
        list(client.list_sessions(classic))

    message = str(not_found.value)
    assert classic in message
    assert "classic (v1) test" in message and "`ut-dagster tests`" in message
    assert len(sandbox.requests) == 1  # explained without asking the API anything more


def test_a_base_url_without_a_scheme_fails_at_once_naming_the_setting(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1),))
    session_id = sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    resource = api_resource(sandbox, base_url=sandbox.url.removeprefix("http://"))

    with pytest.raises(UserTestingConfigError, match="USERTESTING_BASE_URL") as refused:
        resource.get_client().get_session_details(session_id)

    assert "https://" in str(refused.value)
    assert sandbox.requests == [] and sandbox.token_requests == []


# Advice that sends a user to rotate secrets or change the credential's settings.
CREDENTIAL_ADVICE = (
    "check usertesting_client",
    "set a fresh token",
    "usertesting_scope",
    "usertesting_token_url",
)


def _credential_advice(message: str) -> list[str]:
    return [advice for advice in CREDENTIAL_ADVICE if advice in message.lower()]


@pytest.mark.parametrize("credential", ["client", "static"])
def test_a_test_refused_with_401_while_the_credential_serves_others_names_that_test_s_access(
    start_sandbox, api_resource, credential
):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    served, refused = sandbox.test_ids
    sandbox.revoke_test(refused, status=401)
    static = {"client_id": None, "client_secret": None, "access_token": sandbox.config.static_tokens[0]}
    client = api_resource(sandbox, **(static if credential == "static" else {})).get_client()
    assert client.probe_listing(served).total_count == 2

    with pytest.raises(UserTestingAuthError) as error:
        client.probe_listing(refused)

    message = str(error.value)
    assert refused in message and "access to the test" in message
    assert "works" in message  # the credential: it was just accepted for another test
    assert _credential_advice(message) == []
    assert "`ut-dagster forget" in message


def test_a_first_request_refused_with_401_after_a_fresh_token_does_not_blame_the_client_secret(
    start_sandbox, api_resource
):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    refused = sandbox.test_ids[1]
    sandbox.revoke_test(refused, status=401)

    with pytest.raises(UserTestingAuthError) as error:
        api_resource(sandbox).get_client().probe_listing(refused)

    message = str(error.value)
    # The token endpoint accepted the client ID and secret twice (a fresh token was asked for after
    # the first 401): the secret is not what is wrong, the test's access most likely is.
    assert len(sandbox.token_requests) == 2
    assert refused in message and "access to the test" in message
    assert "check usertesting_client" not in message.lower()


def test_a_token_refused_for_a_credential_wide_request_gets_credential_advice(start_sandbox, api_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1),))
    static = {"client_id": None, "client_secret": None, "access_token": "no-such-token"}

    with pytest.raises(UserTestingAuthError) as error:
        list(api_resource(sandbox, **static).get_client().list_workspace_tests())

    message = str(error.value)
    assert "USERTESTING_ACCESS_TOKEN" in message and "expired or was revoked" in message
    assert "test " not in message.replace("list of", "")

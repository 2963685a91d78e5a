"""The opt-in discovery sensor: registers the tests of the credential's workspaces (legacy v1 API)."""

import json
import logging
import time

from dagster_usertesting.defs.discovery import Deferred, DiscoveryMemory, retry_delay, select_tests
from dagster_usertesting.testing.data import build_workspaces

A, B, C = (f"{i}fa85f64-5717-4562-b3fc-2c963f66afa6" for i in (1, 2, 3))


def test_select_tests_keeps_results_api_tests_matching_the_title_pattern():
    studies = [
        {"uuid": A, "type": "STUDYV2", "title": "Checkout redesign"},
        {"uuid": B, "type": "web", "title": "Checkout (classic)"},
        {"uuid": C, "type": "studyv2", "title": "Brand survey"},
        {"uuid": A, "type": "STUDYV2", "title": "Checkout redesign"},
        {"uuid": "not-a-uuid", "type": "STUDYV2", "title": "Broken"},
    ]
    assert select_tests(studies) == [A, C]
    assert select_tests(studies, title_pattern="^check") == [A]


def test_registers_every_test_the_results_api_serves_and_skips_classic_ones(make_rig):
    rig = make_rig()  # four current tests, two classic ones only the v1 listing shows
    result = rig.discover()
    assert rig.registered() == set(rig.sandbox.test_ids)
    assert len(result.dynamic_partitions_requests) == 1
    # One probe per candidate: no request for the classic tests, whose type says they cannot be served.
    assert rig.sandbox.request_counts()["list_sessions"] == len(rig.sandbox.test_ids)

    rig.sandbox.reset_requests()
    again = rig.discover()
    assert not again.dynamic_partitions_requests and rig.sandbox.requests == []  # not due to list again


def test_a_test_whose_first_listing_is_refused_is_not_registered_nor_probed_again(make_rig, caplog):
    rig = make_rig()
    revoked, *served = rig.sandbox.test_ids
    rig.sandbox.revoke_test(revoked)
    with caplog.at_level(logging.INFO):
        rig.discover()
    assert rig.registered() == set(served)
    assert any(revoked in r.getMessage() and "404" in r.getMessage() for r in caplog.records)

    rig.sandbox.reset_requests()
    rig.discover(discover_hours=0)  # lists the workspaces again
    assert "list_sessions" not in rig.sandbox.request_counts()
    assert rig.registered() == set(served)


def test_limited_to_named_workspaces_and_a_title_pattern(make_rig):
    rig = make_rig()
    design_ops = next(
        w
        for w in build_workspaces(rig.sandbox.dataset, rig.sandbox.config.legacy_studies)
        if w.name == "Design Ops"
    )
    expected = {s.uuid for s in design_ops.studies if s.type == "STUDYV2"}
    assert expected and expected != set(rig.sandbox.test_ids)
    rig.discover(discover_workspaces=("design ops",))
    assert rig.registered() == expected
    # Only that workspace's pages were read (plus the list of workspaces).
    assert rig.sandbox.request_counts()["workspaces"] == 2

    survey = next(s for s in rig.sandbox.dataset.studies if "survey" in s.title.lower())
    rig.discover(discover_hours=0, discover_title_pattern="SURVEY")
    assert rig.registered() == expected | {survey.test_id}


def test_a_cursor_candidate_that_is_not_a_test_id_is_never_probed_nor_registered(make_rig):
    rig = make_rig()
    served = rig.sandbox.test_ids[0]
    memory = DiscoveryMemory(listed_at=time.time(), pending=["../../etc", served])  # no v1 listing due
    rig.cursors["usertesting_discover_tests"] = memory.encode()
    rig.discover()
    assert rig.registered() == {served}
    assert rig.sandbox.request_counts() == {"list_sessions": 1}


def test_tests_refused_for_a_credential_error_are_registered_once_the_secret_is_fixed(
    make_rig, sandbox_resource
):
    rig = make_rig()
    tests = rig.sandbox.test_ids
    rig.discover(tick_seconds=0)  # listed the workspaces, then ran out of time: every test waits
    assert rig.registered() == set()

    # The client secret was rotated in UserTesting; the deployment still has the old one.
    rotated = sandbox_resource(
        rig.sandbox, client_secret="rotated-away", rate_limit_store=rig.settings.rate_limit_store
    )
    for _ in range(3):
        rig.discover(usertesting=rotated)
    assert rig.registered() == set()
    tokens, counts = len(rig.sandbox.token_requests), rig.sandbox.request_counts()

    rig.discover()  # the secret fixed
    assert rig.registered() == set(tests)
    # While it was wrong, each tick stopped at the first refusal: one token request, no API request.
    assert tokens <= 1 + 3 and "list_sessions" not in counts


def test_a_test_answering_401_is_retried_with_backoff_and_registered_once_served(make_rig):
    rig = make_rig()
    denied, *served = rig.sandbox.test_ids
    rig.sandbox.revoke_test(denied, status=401)
    clock = [1_700_000_000.0]
    rig.discover(clock=lambda: clock[0])
    requests = 0
    for _ in range(24 * 12):  # a day of ticks, one every 5 minutes (UT_SENSOR_INTERVAL_SECONDS: 60)
        clock[0] += 300
        rig.sandbox.reset_requests()
        rig.discover(clock=lambda: clock[0])
        requests += sum(1 for r in rig.sandbox.requests if denied in str(r["query"]))
    assert rig.registered() == set(served)
    # Delays doubling from a minute up to an hour: under 30 probes a day (each two requests: the
    # client asks again with a fresh token), where a probe every tick would be 288.
    assert 2 * 20 <= requests <= 2 * 30, requests

    rig.sandbox.restore_test(denied)
    clock[0] += 3600
    rig.discover(clock=lambda: clock[0])
    assert rig.registered() == set(rig.sandbox.test_ids)


def test_a_cursor_of_the_old_format_probes_its_refused_tests_again(make_rig):
    # Version 1 refused a test on any 401 (a rotated secret): its refusals are not trusted.
    rig = make_rig()
    tests = rig.sandbox.test_ids
    old = {"v": 1, "listed_at": time.time(), "pending": [], "refused": tests[:4]}
    rig.cursors["usertesting_discover_tests"] = json.dumps(old)
    rig.discover()
    assert rig.registered() == set(tests[:4])


def test_the_cursor_keeps_deferred_candidates_and_their_delays():
    memory = DiscoveryMemory(1.0, [A], [B], {C: Deferred(3, 500.0)})
    again = DiscoveryMemory.decode(memory.encode())
    assert (again.listed_at, again.pending, again.refused, again.deferred) == (
        1.0,
        [A],
        [B],
        {C: Deferred(3, 500.0)},
    )
    assert [retry_delay(n, 60) for n in (1, 2, 3, 7, 8, 20)] == [60, 120, 240, 3600, 3600, 3600]

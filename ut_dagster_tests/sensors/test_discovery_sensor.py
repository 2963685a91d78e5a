"""The opt-in discovery sensor: registers the tests of the credential's workspaces (legacy v1 API)."""

import logging
import time

from ut_dagster.defs.usertesting.discovery import DiscoveryMemory, select_tests
from ut_dagster.sandbox.data import build_workspaces

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

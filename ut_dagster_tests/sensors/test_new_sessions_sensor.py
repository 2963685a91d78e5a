"""The new-sessions sensor on a real Dagster instance, against the sandbox over HTTP."""

import logging
import time

import duckdb
import pytest
from dagster import AssetKey, RunRequest

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME
from dagster_usertesting.defs.probe_schedule import SensorMemory, TestState
from dagster_usertesting.defs.run_tags import FORMER_KEYS, LISTING_HEAD_TAG
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import utc_now
from dagster_usertesting.lib.sync.retries import failed
from dagster_usertesting.lib.sync.state import DETAILS, SyncState
from dagster_usertesting.settings import SensorSettings
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec

ALWAYS_DUE = {"active_minutes": 0, "dormant_hours": 0}


def requested(result) -> list[str]:
    return sorted(r.partition_key for r in result.run_requests or [])


def test_a_failing_test_is_logged_once_per_tick_and_skipped_while_the_others_are_checked(make_rig, caplog):
    rig = make_rig(studies=(StudySpec(SURVEY, 3), StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    revoked, *healthy = rig.sandbox.test_ids
    rig.register(*rig.sandbox.test_ids)
    rig.land(*rig.sandbox.test_ids)
    rig.sandbox.revoke_test(revoked)

    for tick in range(2):
        for test_id in healthy:
            rig.sandbox.add_sessions(test_id, 1)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            result = rig.tick(**ALWAYS_DUE)
        assert requested(result) == sorted(healthy), f"tick {tick}"
        lines = [r.getMessage() for r in caplog.records if revoked in r.getMessage()]
        assert len(lines) == 1 and "\n" not in lines[0] and "404" in lines[0], lines


def test_a_partition_key_that_is_not_a_test_id_is_skipped_without_a_request(make_rig):
    rig = make_rig(studies=(StudySpec(SURVEY, 2),))
    (test_id,) = rig.sandbox.test_ids
    rig.register(test_id)
    rig.land(test_id)
    rig.sandbox.add_sessions(test_id, 1)
    # The UI's "add partition" accepts any text.
    rig.instance.add_dynamic_partitions("usertesting_tests", ["../../etc"])
    rig.sandbox.reset_requests()
    result = rig.tick(**ALWAYS_DUE)
    assert requested(result) == [test_id]
    assert rig.sandbox.request_counts() == {"list_sessions": 1}  # the valid test's probe only


def test_a_tick_does_not_wait_for_rate_budget_and_checks_the_rest_next_tick(
    make_rig, sandbox_resource, tmp_path
):
    rig = make_rig(studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    tests = rig.sandbox.test_ids
    rig.register(*tests)
    rig.land(*tests)
    for test_id in tests:
        rig.sandbox.add_sessions(test_id, 1)
    # The sensor's credential has 2 requests per 3 s, and another process just spent one.
    tight = sandbox_resource(
        rig.sandbox, requests_per_minute=2, rate_window_seconds=3.0, rate_limit_store=str(tmp_path / "tight")
    )
    tight.get_client().probe_listing(tests[0])
    rig.sandbox.reset_requests()
    everything = {"probe_budget_ceiling": 1.0}

    first = rig.tick(usertesting=tight, tick_seconds=0.5, **everything)
    assert len(requested(first)) == 1  # the budget left allowed one check
    # The window is full until the other process's request leaves it: no wait, nothing sent.
    assert requested(rig.tick(usertesting=tight, tick_seconds=0.5, **everything)) == []
    assert len(rig.sandbox.requests) == 1

    last = rig.tick(usertesting=tight, tick_seconds=30, **everything)
    assert requested(first) + requested(last) == sorted(tests)  # the test left over, on a later tick


def test_a_test_receiving_sessions_is_checked_more_often_than_a_dormant_one(make_rig):
    rig = make_rig(studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    fielding, dormant = rig.sandbox.test_ids
    rig.register(fielding, dormant)
    rig.land(fielding, dormant)
    for test_id in (fielding, dormant):
        rig.sandbox.add_sessions(test_id, 1)
    now = time.time()
    # Both were checked 6 minutes ago; one had a session 10 minutes ago, the other none for a month.
    memory = SensorMemory(
        now - 360,
        {
            fielding: TestState(now - 360, now - 600, (now - 600,)),
            dormant: TestState(now - 360, now - 30 * 86400, (now - 30 * 86400,)),
        },
    )
    rig.cursors["usertesting_new_sessions"] = memory.encode([fielding, dormant])
    rig.sandbox.reset_requests()
    assert requested(rig.tick()) == [fielding]
    assert rig.sandbox.request_counts() == {"list_sessions": 1}

    # The dormant test is checked once its longer interval (10 h) is up.
    memory.tests[fielding] = TestState(now, now - 600, (now - 600,))  # as the tick left it
    memory.tests[dormant] = TestState(now - 11 * 3600, now - 30 * 86400, (now - 30 * 86400,))
    rig.cursors["usertesting_new_sessions"] = memory.encode([fielding, dormant])
    assert requested(rig.tick()) == [dormant]


def test_checks_stop_when_the_credentials_recent_use_is_at_the_ceiling(make_rig):
    # A 10-minute window (and ticks as far apart), so the other process's use stays in it throughout.
    api = {"requests_per_minute": 10, "rate_window_seconds": 600.0}
    rig = make_rig(studies=(StudySpec(SURVEY, 2),), api=api)
    (test_id,) = rig.sandbox.test_ids
    rig.register(test_id)
    rig.land(test_id)
    rig.sandbox.add_sessions(test_id, 1)
    usertesting = rig.defs.resources["usertesting"]
    other = usertesting.get_client()  # another process on the same credential
    while usertesting.requests_in_window() < 9:
        other.probe_listing(test_id)
    rig.sandbox.reset_requests()
    # Checked a minute ago, sessions a minute old: due again (5-minute interval, 10-minute ticks) but
    # not starved (a test never checked, or waiting three intervals, gets one probe whatever the use).
    now = time.time()
    checked = TestState(now - 60, now - 60, (now - 60,))
    rig.cursors["usertesting_new_sessions"] = SensorMemory(None, {test_id: checked}).encode([test_id])

    result = rig.tick(interval_seconds=600)  # 9 of 10 used: at the 90% ceiling
    assert requested(result) == [] and rig.sandbox.requests == []
    reason = result.skip_reason.skip_message
    assert "9 of 10 requests used" in reason and "0 checks allowed" in reason

    result = rig.tick(interval_seconds=600, probe_budget_ceiling=1.0)
    assert requested(result) == [test_id]  # a ceiling of 100% leaves it the last request


def test_a_failed_run_is_requested_again_and_a_running_one_is_not(make_rig):
    rig = make_rig(studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    failing, running = rig.sandbox.test_ids
    rig.register(failing, running)
    first = rig.tick()
    assert requested(first) == sorted([failing, running])
    first_key = {r.partition_key: r.run_key for r in first.run_requests}[failing]

    # One test's first sync lands its sessions, then fails writing the warehouse (a real failed run
    # is in the daemon test); the other's is queued.
    rig.land(failing)
    job = rig.defs.resolve_job_def(SYNC_JOB_NAME)
    rig.instance.report_run_failed(rig.instance.create_run_for_job(job, tags={"dagster/partition": failing}))
    rig.instance.create_run_for_job(job, tags={"dagster/partition": running})

    second = rig.tick()
    assert requested(second) == [failing]
    assert second.run_requests[0].run_key != first_key  # a new key: the daemon does not drop it
    assert "failed" in second.run_requests[0].tags["usertesting/reason"]


def test_sessions_listed_by_a_run_that_failed_before_their_details_landed_are_new(make_rig):
    rig = make_rig(studies=(StudySpec(SURVEY, 3),))
    [test_id] = rig.sandbox.test_ids
    rig.register(test_id)
    rig.land(test_id)
    assert requested(rig.tick()) == []
    new = rig.sandbox.add_sessions(test_id, 2)
    # A run lands the listing, then fails before the details of the new sessions land.
    job = rig.defs.resolve_job_def(SYNC_JOB_NAME)
    job.execute_in_process(
        instance=rig.instance,
        partition_key=test_id,
        asset_selection=[AssetKey(["usertesting", "raw_sessions"])],
    )
    assert set(new) <= set(rig.landing.read_listing(test_id).sessions)

    result = rig.tick(**ALWAYS_DUE)
    assert requested(result) == [test_id]


def test_a_test_beyond_offset_paging_costs_one_request_per_check(make_rig):
    rig = make_rig(studies=(StudySpec(SURVEY, 10_600),))
    [test_id] = rig.sandbox.test_ids
    rig.register(test_id)
    # What a full sync leaves: the 10,500 sessions offset paging reaches, listed and landed. The
    # details are written straight into the landing layout: the store's fsync per object would take
    # minutes for 10,500 of them on a busy disk.
    rig.land(test_id, details=False)
    sessions = rig.landing.read_listing(test_id).sessions
    assert len(sessions) == 10_500
    root = rig.settings.data_dir / "objects" / "raw" / test_id / "session_details"
    for session_id in sessions:
        (root / session_id).mkdir(parents=True)
        (root / session_id / "20241121T120000000000Z.json").write_bytes(b"{}")
    assert len(rig.landing.latest_by_session(test_id, "session_details")) == 10_500
    rig.sandbox.reset_requests()

    assert requested(rig.tick()) == []
    assert rig.sandbox.request_counts() == {"list_sessions": 1}

    rig.sandbox.add_sessions(test_id, 1)
    assert requested(rig.tick(**ALWAYS_DUE)) == [test_id]
    assert rig.sandbox.request_counts() == {"list_sessions": 2}


def end_runs(rig, test_id: str, count: int, canceled: bool = False) -> None:
    """Runs of the test that ended as failed (or cancelled by a user), as the instance records them."""
    job = rig.defs.resolve_job_def(SYNC_JOB_NAME)
    for _ in range(count):
        run = rig.instance.create_run_for_job(job, tags={"dagster/partition": test_id})
        if canceled:
            rig.instance.report_run_canceled(run)
        else:
            rig.instance.report_run_failed(run, message="the warehouse refused the write")


def test_a_test_that_keeps_failing_is_not_synced_again_until_a_run_of_it_succeeds(make_rig):
    rig = make_rig(
        studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)), sensors=SensorSettings(max_failed_runs=3)
    )
    failing, healthy = rig.sandbox.test_ids
    rig.register(failing, healthy)
    rig.land(failing, healthy)
    end_runs(rig, failing, 3)
    rig.sandbox.add_sessions(failing, 1)
    rig.sandbox.reset_requests()

    result = rig.tick(**ALWAYS_DUE)
    assert requested(result) == []
    message = result.skip_reason.skip_message
    assert f"1 not synced after 3 failed runs in a row ({failing})" in message
    assert "ut-dagster sync TEST_ID" in message
    assert rig.sandbox.request_counts() == {"list_sessions": 1}  # the healthy test's check only

    assert rig.sync(failing) == 0  # a user's manual sync succeeds
    rig.sandbox.add_sessions(failing, 1)
    assert requested(rig.tick(**ALWAYS_DUE)) == [failing]


def test_a_run_the_user_cancelled_is_not_requested_again_on_the_next_tick(make_rig):
    rig = make_rig(studies=(StudySpec(SURVEY, 2),))
    [test_id] = rig.sandbox.test_ids
    rig.register(test_id)
    assert requested(rig.tick()) == [test_id]  # never synced
    end_runs(rig, test_id, 1, canceled=True)
    assert requested(rig.tick()) == []


def test_listed_sessions_not_landed_start_a_run_until_they_land_or_back_off(make_rig):
    # The listing was landed by a run that failed before the details: the count and the newest
    # session are as the API says, but two older sessions never landed.
    rig = make_rig(studies=(StudySpec(SURVEY, 4),))
    (test_id,) = rig.sandbox.test_ids
    rig.register(test_id)
    rig.land(test_id, details=False)
    listed = rig.sandbox.dataset.session_ids(test_id)
    for session_id in listed[:2]:
        rig.landing.put_session_object(test_id, "session_details", session_id, "json", b"{}", utc_now())

    result = rig.tick(**ALWAYS_DUE)

    assert requested(result) == [test_id]
    assert "2 listed sessions not landed" in result.run_requests[0].tags["usertesting/reason"]
    # Failing and backing off (not due yet): no reason for a run.
    state = SyncState(rig.landing, TestId(test_id))
    state.save_failures(DETAILS, {s: failed(None, utc_now(), "HTTP 503") for s in listed[2:]})
    assert requested(rig.tick(**ALWAYS_DUE)) == []


@pytest.mark.parametrize("queued_before_the_upgrade", [False, True], ids=["tag", "former tag key"])
def test_a_run_the_sensor_requests_starts_from_the_probes_page_instead_of_asking_again(
    make_rig, queued_before_the_upgrade
):
    # Think-out-loud: every session has a transcript, so no 404 makes the run ask whether the test answers.
    rig = make_rig(studies=(StudySpec(THINK_OUT_LOUD, 3),))
    (test_id,) = rig.sandbox.test_ids
    rig.register(test_id)
    assert rig.sync(test_id) == 0
    new = rig.sandbox.add_sessions(test_id, 2)
    rig.sandbox.reset_requests()

    [request] = rig.tick(**ALWAYS_DUE).run_requests
    assert rig.sandbox.request_counts() == {"list_sessions": 1}  # the probe: the listing's first page
    rig.sandbox.reset_requests()
    if queued_before_the_upgrade:  # a run an earlier version's sensor queued, run by this version
        tags = dict(request.tags)
        tags[FORMER_KEYS[LISTING_HEAD_TAG]] = tags.pop(LISTING_HEAD_TAG)
        request = RunRequest(partition_key=request.partition_key, job_name=request.job_name, tags=tags)
    assert rig.run(request)

    counts = rig.sandbox.request_counts()
    assert "list_sessions" not in counts, counts  # the probe's answer was the listing's first page
    assert counts["session_details"] == 2
    with duckdb.connect(str(rig.settings.duckdb_path), read_only=True) as db:
        rows = db.execute(
            "select session_id from usertesting.sessions where test_id = ?", [test_id]
        ).fetchall()
    assert set(new) <= {r[0] for r in rows} and len(rows) == 5


def test_a_sync_not_started_by_the_sensor_lists_for_itself(make_rig):
    rig = make_rig(studies=(StudySpec(THINK_OUT_LOUD, 3),))
    (test_id,) = rig.sandbox.test_ids
    rig.register(test_id)
    assert rig.sync(test_id) == 0
    rig.sandbox.add_sessions(test_id, 1)
    rig.tick(**ALWAYS_DUE)  # lands a page that a run from the CLI must not take for the listing's word
    rig.sandbox.add_sessions(test_id, 1)
    rig.sandbox.reset_requests()

    assert rig.sync(test_id) == 0
    assert rig.sandbox.request_counts()["list_sessions"] == 1
    assert rig.sandbox.request_counts()["session_details"] == 2  # both, the later one included

"""Runs whose process is gone are failed and free their pool slot; a live run is never touched.

The decision is pure (run_process, process_gone) and tested case by case; the process table and the
instance are real: a child process of the test, and a Dagster instance on disk.
"""

import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from dagster import DagsterRun, DagsterRunStatus, build_sensor_context, instance_for_test

from dagster_usertesting.defs.forget import run_by_cli
from dagster_usertesting.defs.run_recovery import (
    CLOCK_SLACK_S,
    ENDED_RUN_SLOT_GRACE_S,
    GRPC_INFO_TAG,
    ProcessSeen,
    RunProcess,
    build_run_recovery_sensor,
    free_slots_of_ended_runs,
    look_up_process,
    process_gone,
    run_process,
    slots_to_free,
)
from dagster_usertesting.defs.run_tags import CLI_HOST_TAG, CLI_PID_TAG, FORMER_KEYS, run_tag
from dagster_usertesting.defs.titles import TITLE_TAG
from ut_dagster.cli.instance import cli_run_tags, release_runs_of_dead_cli_processes

HOST, OTHER_HOST = "worker-1", "worker-2"
T0 = 1_700_000_000.0
LOCAL_CODE_SERVER = {GRPC_INFO_TAG: json.dumps({"host": "localhost", "socket": "/tmp/x"})}


# -- which process runs a run, and on which host ---------------------------------------------------


def test_a_cli_run_is_run_by_the_process_its_tags_name() -> None:
    tags = {CLI_HOST_TAG: OTHER_HOST, CLI_PID_TAG: "41"}
    process = run_process("r", tags, T0, None, this_host=HOST, launched_from_here=False)
    assert process == RunProcess("r", OTHER_HOST, 41, T0)


def test_a_daemon_run_is_run_on_this_host_only_when_its_local_code_server_was_started_from_here() -> None:
    worker = (77, T0 + 5)
    here = run_process("r", LOCAL_CODE_SERVER, T0, worker, this_host=HOST, launched_from_here=True)
    assert here == RunProcess("r", HOST, 77, T0 + 5)
    # Judged by a process that does not launch runs (the CLI, a webserver elsewhere): unknown.
    assert run_process("r", LOCAL_CODE_SERVER, T0, worker, this_host=HOST, launched_from_here=False) is None


@pytest.mark.parametrize(
    "tags",
    [
        {
            GRPC_INFO_TAG: json.dumps({"host": "code-server.internal", "port": 4000})
        },  # a code server elsewhere
        {},  # another run launcher (Kubernetes, Docker, ECS): Dagster's run monitoring watches those
        {GRPC_INFO_TAG: "not json"},
    ],
)
def test_a_run_whose_worker_host_is_unknown_is_never_judged(tags: dict[str, str]) -> None:
    assert run_process("r", tags, T0, (77, T0), this_host=HOST, launched_from_here=True) is None


def test_a_run_whose_worker_never_reported_its_pid_is_left_to_the_start_timeout() -> None:
    assert run_process("r", LOCAL_CODE_SERVER, T0, None, this_host=HOST, launched_from_here=True) is None


# -- whether that process is gone ------------------------------------------------------------------

RUN = RunProcess("r", HOST, 77, T0)


@pytest.mark.parametrize(
    ("seen", "gone"),
    [
        (ProcessSeen(exists=False), True),
        (ProcessSeen(exists=True, zombie=True, started_at=T0 - 1), True),  # killed, not reaped yet
        (ProcessSeen(exists=True, started_at=T0 + CLOCK_SLACK_S + 1), True),  # pid reused (a reboot)
        (ProcessSeen(exists=True, started_at=T0 - 60), False),  # the very process
        (ProcessSeen(exists=True, started_at=T0 + CLOCK_SLACK_S - 1), False),  # within clock slack
        (ProcessSeen(exists=True), False),  # a platform without start times: in doubt, alive
    ],
)
def test_a_process_is_gone_when_no_process_or_another_one_has_its_pid(seen: ProcessSeen, gone: bool) -> None:
    assert process_gone(RUN, HOST, seen) is gone


def test_a_process_on_another_host_is_never_taken_for_gone() -> None:
    assert process_gone(RUN, OTHER_HOST, ProcessSeen(exists=False)) is False


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="start times come from /proc")
def test_the_process_table_tells_a_live_a_zombie_and_a_gone_process_apart() -> None:
    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        live = look_up_process(child.pid)
        assert live.exists and not live.zombie
        assert live.started_at is not None and abs(live.started_at - before) < CLOCK_SLACK_S
        assert not process_gone(RunProcess("r", HOST, child.pid, time.time()), HOST, live)
        child.stdin.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while not look_up_process(child.pid).zombie and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the process table, bounded by the deadline
        assert look_up_process(child.pid).zombie  # exited, not reaped: dead all the same
    finally:
        child.wait()
    assert not look_up_process(child.pid).exists


# -- against a real instance -----------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _run(instance, tags: dict[str, str], status=DagsterRunStatus.STARTED) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(DagsterRun(job_name="usertesting_sync", run_id=run_id, status=status, tags=tags))
    instance.event_log_storage.claim_concurrency_slot("usertesting_api", run_id, "usertesting__raw_sessions")
    return run_id


def test_a_killed_cli_sync_is_failed_and_frees_its_slot_and_a_live_one_is_kept() -> None:
    with instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots("usertesting_api", 2)
        killed = _run(instance, {CLI_HOST_TAG: socket.gethostname(), CLI_PID_TAG: str(_dead_pid())})
        live = _run(instance, cli_run_tags())  # this very process
        elsewhere = _run(instance, {CLI_HOST_TAG: "another-host", CLI_PID_TAG: str(_dead_pid())})

        assert release_runs_of_dead_cli_processes(instance) == [killed]

        assert instance.get_run_by_id(killed).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(killed).tags["usertesting/interrupted"] == "process_gone"
        assert instance.get_run_by_id(live).status == DagsterRunStatus.STARTED
        assert instance.get_run_by_id(elsewhere).status == DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == {live, elsewhere}
        assert release_runs_of_dead_cli_processes(instance) == []  # nothing twice


def test_a_cli_sync_recorded_before_the_tag_rename_is_still_told_apart_dead_from_alive() -> None:
    # A host upgraded while a `ut-dagster sync` of the earlier version was running (then killed) or
    # still runs: its run carries the former keys, and must neither hold its slot until the runtime
    # limit nor be failed while alive.
    former_host, former_pid = FORMER_KEYS[CLI_HOST_TAG], FORMER_KEYS[CLI_PID_TAG]
    with instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots("usertesting_api", 2)
        killed = _run(instance, {former_host: socket.gethostname(), former_pid: str(_dead_pid())})
        live = _run(instance, {former_host: socket.gethostname(), former_pid: str(os.getpid())})

        assert release_runs_of_dead_cli_processes(instance) == [killed]
        assert instance.get_run_by_id(live).status == DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == {live}


def test_every_tag_shares_one_prefix_sorting_after_the_title_and_is_read_under_its_former_key_too() -> None:
    former_host_tag, former_pid_tag = FORMER_KEYS[CLI_HOST_TAG], FORMER_KEYS[CLI_PID_TAG]
    assert {key.split("/")[0] for key in FORMER_KEYS} == {"usertesting"}
    assert all(key > TITLE_TAG for key in FORMER_KEYS)  # the runs list shows the title first
    for key, former in FORMER_KEYS.items():
        assert run_tag({former: "old"}, key) == "old"
        assert run_tag({key: "new", former: "old"}, key) == "new"
        assert run_tag({}, key) is None
    assert run_tag({"ut/other": "x"}, "usertesting/other") is None
    # `forget` tells a run no launcher can stop by the same tags, old or new.
    assert run_by_cli(
        DagsterRun(job_name="usertesting_sync", tags={former_host_tag: "h", former_pid_tag: "1"})
    )


def test_the_recovery_sensor_releases_dead_runs_on_every_tick() -> None:
    sensor = build_run_recovery_sensor(30)
    assert sensor.default_status.value == "RUNNING"  # no API budget spent: always on
    with instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots("usertesting_api", 1)
        killed = _run(instance, {CLI_HOST_TAG: socket.gethostname(), CLI_PID_TAG: str(_dead_pid())})
        with build_sensor_context(instance=instance) as context:
            result = sensor(context)
        assert killed in str(result.skip_message)
        assert instance.get_run_by_id(killed).status == DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_run_ids() == set()


def test_slots_held_by_an_ended_run_are_taken_back_after_a_grace_period() -> None:
    holders = {"running": None, "just_ended": T0 - 1, "ended_long_ago": T0 - ENDED_RUN_SLOT_GRACE_S - 1}
    assert slots_to_free(holders, T0) == ["ended_long_ago"]


def test_a_run_failed_without_releasing_its_slot_gives_it_back_a_minute_later() -> None:
    with instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots("usertesting_api", 2)
        ended = _run(instance, {})
        running = _run(instance, {})
        instance.report_run_failed(instance.get_run_by_id(ended), message="max runtime exceeded")
        assert free_slots_of_ended_runs(instance, time.time()) == []  # its process may still release it
        later = time.time() + ENDED_RUN_SLOT_GRACE_S + 1
        assert free_slots_of_ended_runs(instance, later) == [ended]
        assert instance.event_log_storage.get_concurrency_run_ids() == {running}


def test_cli_runs_have_no_runtime_limit_as_monitoring_cannot_stop_them() -> None:
    assert cli_run_tags()["dagster/max_runtime"] == "0"


# -- a hung run is bounded -------------------------------------------------------------------------


def _sync_job_tags(env: dict[str, str]) -> subprocess.CompletedProcess:
    """The sync jobs' run tags as a code location started with `env` defines them."""
    code = (
        "from dagster_usertesting.defs.jobs import build_sync_jobs\n"
        "from dagster_usertesting.settings import SyncSettings\n"
        "a, b = build_sync_jobs(SyncSettings.from_env())\n"
        "print(a.run_tags['dagster/max_runtime'], b.run_tags['dagster/max_runtime'])"
    )
    base = {k: v for k, v in os.environ.items() if k != "UT_RUN_MAX_HOURS"}
    return subprocess.run(
        [sys.executable, "-c", code], env=base | env, capture_output=True, text=True, timeout=120
    )


def test_sync_runs_are_failed_by_run_monitoring_after_ut_run_max_hours() -> None:
    assert _sync_job_tags({}).stdout.split() == ["86400", "86400"]  # 24 h by default
    assert _sync_job_tags({"UT_RUN_MAX_HOURS": "60"}).stdout.split() == ["216000", "216000"]
    refused = _sync_job_tags({"UT_RUN_MAX_HOURS": "0"})
    assert refused.returncode != 0 and "UT_RUN_MAX_HOURS must be a positive number of hours" in refused.stderr

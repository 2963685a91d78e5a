"""`ut-dagster status` and `ut-dagster forget`, against a real instance after a real sync."""

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dagster_usertesting.defs.forget import is_forgotten
from dagster_usertesting.defs.jobs import SYNC_JOB_NAME
from dagster_usertesting.defs.partitions import add_tests
from dagster_usertesting.lib.object_store import ObjectStoreResource
from ut_dagster.cli.forget import run_forget
from ut_dagster.cli.instance import cli_run_tags, dagster_instance
from ut_dagster.cli.status import collect_status, run_status

QUEUED = DagsterRunStatus.QUEUED
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_status_shows_each_test_listed_landed_and_what_catching_up_costs_without_a_request(make_cli):
    cli = make_cli()
    synced, other = cli.sandbox.test_ids[:2]
    assert cli.sync(synced)[0] == 0
    new = cli.sandbox.add_sessions(synced, 3)
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    cli.instance.add_dynamic_partitions("usertesting_tests", [other])  # registered, never synced
    requests_before = len(cli.sandbox.requests)

    out = io.StringIO()
    assert run_status(cli.settings, instance=cli.instance, store=store, out=out) == 0
    assert len(cli.sandbox.requests) == requests_before

    sessions = len(cli.sandbox.dataset.session_ids(synced)) - len(new)
    status = collect_status(cli.instance, store, synced)
    assert (status.listed, status.api_total, status.landed, status.behind) == (
        sessions,
        sessions,
        sessions,
        0,
    )
    assert status.last_run_status == "success" and status.last_success_at is not None
    # Up to date: one listing page (test_status_catch_up.py checks the estimate against real syncs).
    assert status.catch_up.total == 1
    never = collect_status(cli.instance, store, other)
    assert (never.listed, never.api_total, never.landed, never.last_run_at) == (0, None, 0, None)

    table = out.getvalue().splitlines()
    assert table[0].split()[:4] == ["TEST", "ID", "LISTED/API", "LANDED"]
    row = next(line for line in table if synced in line)
    assert f"{sessions}/{sessions}" in row and "success" in row and "1 request," in row
    assert "never synced" in next(line for line in table if other in line)


def test_forget_unregisters_a_test_and_keeps_its_data(make_cli, capsys):
    cli = make_cli()
    test_id = cli.sandbox.test_ids[0]
    assert cli.sync(test_id)[0] == 0

    assert run_forget(test_id, settings=cli.settings, instance=cli.instance) == 0
    assert cli.registered() == set()
    assert "Its data is kept" in capsys.readouterr().out
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert collect_status(cli.instance, store, test_id).landed > 0

    assert run_forget(test_id, settings=cli.settings, instance=cli.instance) == 1
    assert "is not registered" in capsys.readouterr().err


def test_forget_with_delete_data_removes_what_was_synced(make_cli, capsys):
    cli = make_cli()
    test_id = cli.sandbox.test_ids[0]
    assert cli.sync(test_id)[0] == 0

    assert run_forget(test_id, delete_data=True, settings=cli.settings, instance=cli.instance) == 0
    assert cli.registered() == set()
    assert "Deleted " in capsys.readouterr().out
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    status = collect_status(cli.instance, store, test_id)
    assert (status.listed, status.landed) == (0, 0)
    with duckdb.connect(str(cli.settings.duckdb_path), read_only=True) as db:
        marts = db.sql("select * from duckdb_schemas() where schema_name = 'usertesting_marts'").fetchall()
    assert marts == []  # no marts were built, so no history table: nothing to delete there


def test_forget_with_delete_data_removes_the_test_s_qx_score_history_and_keeps_the_others(make_cli, capsys):
    cli = make_cli()
    test_id, other = cli.sandbox.test_ids[:2]
    assert cli.sync(test_id)[0] == 0
    # What the marts' dbt builds leave: qx_score_history is incremental, kept across builds.
    with duckdb.connect(str(cli.settings.duckdb_path)) as db:
        db.execute("create schema usertesting_marts")
        db.execute("create table usertesting_marts.qx_score_history (test_id varchar, qx_score double)")
        db.execute(
            "insert into usertesting_marts.qx_score_history values (?, 70), (?, 64), (?, 81)",
            [test_id, test_id, other],
        )

    assert run_forget(test_id, delete_data=True, settings=cli.settings, instance=cli.instance) == 0

    assert "Deleted " in capsys.readouterr().out
    with duckdb.connect(str(cli.settings.duckdb_path), read_only=True) as db:
        history = db.sql("select test_id, qx_score from usertesting_marts.qx_score_history").fetchall()
        sql = "select count(*) from usertesting.sessions where test_id = ?"
        sessions = db.execute(sql, [test_id]).fetchall()
    assert (history, sessions) == ([(other, 81.0)], [(0,)])


def test_a_test_id_pasted_in_upper_case_is_synced_as_the_one_test_it_is(make_cli):
    cli = make_cli()
    test_id = cli.sandbox.test_ids[0]
    assert cli.sync(test_id.upper())[0] == 0
    assert cli.sync(test_id)[0] == 0
    assert add_tests(cli.instance, [test_id.upper()]) == [test_id]
    assert cli.registered() == {test_id}
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert {key.split("/")[1] for key in store.list_keys("raw/")} == {test_id}
    sessions = cli.sandbox.dataset.session_ids(test_id)
    assert collect_status(cli.instance, store, test_id).landed == len(sessions)
    with duckdb.connect(str(cli.settings.duckdb_path), read_only=True) as db:
        rows = db.sql("select test_id, session_id from usertesting.sessions").fetchall()
    assert sorted(rows) == sorted((test_id, s) for s in sessions)  # each session once, under one test


@pytest.fixture
def cli_instance(monkeypatch):
    """The instance `ut-dagster` itself opens (DAGSTER_HOME of the settings), as the command would."""

    def open_instance(cli) -> DagsterInstance:
        monkeypatch.setenv("DAGSTER_HOME", str(cli.settings.dagster_home))  # restored after the test
        return dagster_instance(cli.settings)

    return open_instance


def launch_queued_run(cli, test_id: str) -> None:
    """What the sensor or the UI's "Materialize" does: a run submitted to the instance's queue
    (no daemon runs here to dequeue it)."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(cli.settings.dagster_home),
        "UT_DATA_DIR": str(cli.settings.data_dir),
    }
    tags = json.dumps({"dagster/partition": test_id})
    command = [str(BIN / "dagster"), "job", "launch", "-m", "ut_dagster.definitions", "-j", SYNC_JOB_NAME]
    subprocess.run(
        [*command, "--tags", tags], env=env, cwd=REPO, check=True, capture_output=True, timeout=300
    )


def test_forget_with_delete_data_cancels_the_test_s_runs_in_flight_then_deletes(
    make_cli, cli_instance, capsys
):
    cli = make_cli()
    test_id, other = cli.sandbox.test_ids[:2]
    assert cli.sync(test_id)[0] == 0
    instance = cli_instance(cli)
    add_tests(instance, [test_id, other])
    launch_queued_run(cli, test_id)
    launch_queued_run(cli, other)
    # And a run a sensor tick has just created, before the daemon submits it.
    job = cli.defs.resolve_job_def(SYNC_JOB_NAME)
    created = instance.create_run_for_job(job, tags={"dagster/partition": test_id})
    queued = {r.tags["dagster/partition"]: r for r in instance.get_runs(RunsFilter(statuses=[QUEUED]))}

    assert run_forget(test_id, delete_data=True, settings=cli.settings) == 0
    for run in (queued[test_id], created):
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(queued[other].run_id).status == QUEUED
    out = capsys.readouterr().out
    assert "Cancelled 2 runs" in out and "Deleted " in out
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert collect_status(instance, store, test_id).landed == 0
    assert is_forgotten(instance, test_id) and not is_forgotten(instance, other)


def test_forget_with_delete_data_refuses_while_a_sync_process_runs_the_test(make_cli, cli_instance, capsys):
    cli = make_cli()
    test_id = cli.sandbox.test_ids[0]
    assert cli.sync(test_id)[0] == 0
    instance = cli_instance(cli)
    add_tests(instance, [test_id])
    # Another `ut-dagster sync` (this very process, alive) is running the test in its own process:
    # no run launcher can stop it, so its run would land payloads after the data was deleted.
    job = cli.defs.resolve_job_def(SYNC_JOB_NAME)
    running = instance.create_run_for_job(
        job, status=DagsterRunStatus.STARTED, tags={"dagster/partition": test_id, **cli_run_tags()}
    )

    assert run_forget(test_id, delete_data=True, settings=cli.settings, wait_seconds=0) == 2
    err = capsys.readouterr().err
    assert running.run_id in err and "not deleted" in err and f"forget {test_id} --delete-data" in err
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert collect_status(instance, store, test_id).landed > 0  # nothing deleted
    assert is_forgotten(instance, test_id)  # no new run is requested; the engine lands nothing more
    assert instance.get_run_by_id(running.run_id).status == DagsterRunStatus.STARTED

    instance.report_run_failed(instance.get_run_by_id(running.run_id))  # that sync ended
    assert run_forget(test_id, delete_data=True, settings=cli.settings) == 0
    assert collect_status(instance, store, test_id).landed == 0


def test_status_shows_a_test_that_keeps_failing_its_last_error_and_how_to_resume_it(make_cli):
    cli = make_cli()
    failing, retrying = cli.sandbox.test_ids[:2]
    assert cli.sync(failing, retrying)[0] == 0
    settings = replace(cli.settings, sensors=replace(cli.settings.sensors, max_failed_runs=3))
    job = cli.defs.resolve_job_def(SYNC_JOB_NAME)
    for test_id, count in ((failing, 3), (retrying, 1)):
        for n in range(count):
            run = cli.instance.create_run_for_job(job, tags={"dagster/partition": test_id})
            cli.instance.report_run_failed(run, message=f"the warehouse refused the write ({n})")
    cancelled = cli.instance.create_run_for_job(job, tags={"dagster/partition": failing})
    cli.instance.report_run_canceled(cancelled)  # not a failure, nor a success

    out = io.StringIO()
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert run_status(settings, instance=cli.instance, store=store, out=out) == 0
    text = out.getvalue()
    row = next(line for line in text.splitlines() if failing in line)
    assert "STOPPED after 3 failed runs" in row
    assert "1 failed run in a row" in next(line for line in text.splitlines() if retrying in line)
    assert (
        f"{failing}: not synced after 3 failed runs in a row; last error: the warehouse refused the write (2)"
        in text
    )
    assert f"`ut-dagster sync {failing}`" in text

    assert cli.sync(failing)[0] == 0  # a successful run resumes it
    out = io.StringIO()
    run_status(settings, instance=cli.instance, store=store, out=out)
    assert "STOPPED" not in out.getvalue()

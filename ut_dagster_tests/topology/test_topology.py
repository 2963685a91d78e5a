"""The production topology of docs/deployment.md, exercised: the Dagster instance in PostgreSQL, the
API's rate limit shared through Redis, and several run workers at once.

A real PostgreSQL server and a real Redis server on 127.0.0.1 (conftest.py), a real `dagster-daemon`
with the new-sessions sensor on, two run workers up at once (each a process of its own), and another
host's client on the same credential, all of them spending one budget against the sandbox over HTTP
while sessions keep arriving. At the end the warehouse holds exactly what the sandbox serves, the
sandbox refused no request (0 x 429), and no session's details or transcript was asked for twice.

`make topology` runs this file alone.
"""

import itertools
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import redis
import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunRecord, RunsFilter
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME
from dagster_usertesting.defs.partitions import add_tests
from dagster_usertesting.defs.runs import IN_FLIGHT
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.usertesting_api.rate_limit import store_key
from dagster_usertesting.testing import INTERACTION, SURVEY, THINK_OUT_LOUD, SandboxServer, StudySpec
from dagster_usertesting.testing.config import TRANSCRIPT_KINDS
from dagster_usertesting.testing.routes import route
from ut_dagster.cli.dagster_home import DEFAULT_INSTANCE_YAML
from ut_dagster.environment import Settings
from ut_dagster_tests.topology.servers import Postgres, Server, stop_daemon

DEPLOYMENT_DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
DEADLINE_S = 300  # a bound for a busy 2-core machine, not a target (the docs give the duration)
SENSOR = "usertesting_new_sessions"
# Think-out-loud sessions have transcripts, the interaction test a QXscore; the survey starts empty
# (a dormant test that receives its first session while the daemon runs).
STUDIES = (
    StudySpec(THINK_OUT_LOUD, 4),
    StudySpec(INTERACTION, 3),
    StudySpec(THINK_OUT_LOUD, 2),
    StudySpec(SURVEY, 0),
)
# A budget tight enough that the processes' requests meet in the same windows: processes that did
# not share it are refused (seen: with a window per process, this test fails on 429s).
RATE = {"requests_per_window": 6, "window_seconds": 1.0}


def documented_instance_config() -> dict:
    """The Postgres `dagster.yaml` of docs/deployment.md, as a deployment copies it from there."""
    text = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)]
    [config] = [b for b in blocks if isinstance(b, dict) and "postgres" in (b.get("storage") or {})]
    return config


def instance_yaml() -> str:
    """The instance a deployment runs: the project's pools, queue and monitoring (what `make dev`
    writes), storage and pools as docs/deployment.md shows them, and two runs at once."""
    config = {**yaml.safe_load(DEFAULT_INSTANCE_YAML), **documented_instance_config()}
    config["concurrency"]["runs"] = {"max_concurrent_runs": 2}
    # With the pool at one slot Dagster's queue launches no sync run while another holds the slot
    # ("blocked by global concurrency limits"): without a buffer the two workers never sync side by
    # side. One buffered run starts its worker while the other holds the slot and takes the slot
    # over from it through the instance's (Postgres) concurrency tables (docs/deployment.md).
    config["concurrency"]["pools"]["op_granularity_run_buffer"] = 1
    config["telemetry"] = {"enabled": False}
    # The marts' dbt automation is not under test (and a dbt build per sync would double the time).
    config["auto_materialize"] = {"enabled": False}
    return yaml.safe_dump(config)


class Warehouse:
    """The DuckDB warehouse as `assert_synced_as_served` reads it."""

    def __init__(self, sandbox: SandboxServer, path: Path) -> None:
        self.sandbox, self.path = sandbox, path

    def table(self, name: str) -> pd.DataFrame:
        with duckdb.connect(str(self.path), read_only=True) as db:
            return db.sql(f"select * from usertesting.{name}").df()

    def session_ids(self) -> set[str]:
        """The sessions in the warehouse; empty while a run holds the file (or before the first)."""
        if not self.path.exists():
            return set()
        try:
            return set(self.table("sessions")["session_id"])
        except duckdb.Error:  # a run is writing (the file is locked) or the table is not there yet
            return set()


class OtherHost(threading.Thread):
    """Another host on the same credential (a CLI, a second deployment): probes listings as fast as
    the shared budget allows, from this process, until stopped. Alone it takes the whole budget,
    so a run or sensor that does not take its budget from the same Redis is refused (429)."""

    MAX_REQUESTS = 3000  # a bound (about 12 minutes of the budget); it is stopped long before

    def __init__(self, client, test_ids: list[str]) -> None:
        super().__init__(name="other-host", daemon=True)
        self.client, self.test_ids = client, [TestId(t) for t in test_ids]
        self.stopping, self.error, self.requests = threading.Event(), None, 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set() and self.requests < self.MAX_REQUESTS:
                self.client.probe_listing(self.test_ids[self.requests % len(self.test_ids)])
                self.requests += 1
        except Exception as exc:  # reported by the test
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)
        assert not self.is_alive(), "the other host's client did not stop"
        assert self.error is None, f"the other host's client failed: {self.error!r}"


def wait_for(condition: Callable[[], object], what: str, deadline: float, log: Path) -> object:
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)  # polling a condition, bounded by the deadline
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    pytest.fail(f"Timed out waiting for {what}. Daemon log tail:\n{tail}")


def spans(runs: list[RunRecord]) -> list[tuple[str, float, float]]:
    """(test, start, end) of each run, in seconds since the first started."""
    first = min((r.start_time for r in runs if r.start_time), default=0.0)
    return sorted(
        (r.dagster_run.tags.get("dagster/partition", "?")[:8], r.start_time - first, r.end_time - first)
        for r in runs
        if r.start_time and r.end_time
    )


def overlap(runs: list[RunRecord]) -> bool:
    """Whether two of these runs were running at the same time."""
    intervals = sorted((r.start_time, r.end_time) for r in runs if r.start_time and r.end_time)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(intervals))


@pytest.mark.timeout(DEADLINE_S + 120)
def test_postgres_instance_redis_limiter_and_two_run_workers_sync_arriving_sessions_once_each(
    postgres: Postgres,
    redis_server: Server,
    start_sandbox,
    start_daemon,
    api_resource,
    assert_synced_as_served,
    tmp_path,
    monkeypatch,
):
    started = time.monotonic()
    deadline = started + DEADLINE_S
    sandbox = start_sandbox(studies=STUDIES, **RATE)
    limiter_store = f"redis://127.0.0.1:{redis_server.port}/0"
    postgres_env = {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_DB": postgres.database,
        "DAGSTER_PG_USERNAME": postgres.user,
        "DAGSTER_PG_PASSWORD": postgres.password,
    }
    for name, value in postgres_env.items():
        monkeypatch.setenv(name, value)  # this process reads the instance too
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml())
    env = {
        **os.environ,
        **postgres_env,
        "DAGSTER_HOME": str(home),
        "UT_DATA_DIR": str(tmp_path / "data"),
        **sandbox.client_environment(),
        "USERTESTING_RATE_LIMIT_STORE": limiter_store,
        "USERTESTING_BACKOFF_BASE_SECONDS": "0.01",
        "USERTESTING_BACKOFF_MAX_SECONDS": "0.05",
        # The sensor on from the start, ticking as often as the daemon loops, checking every test.
        "UT_SENSOR_RUNNING": "true",
        "UT_SENSOR_INTERVAL_SECONDS": "1",
        "UT_SENSOR_ACTIVE_MINUTES": "0",
        "UT_SENSOR_DORMANT_HOURS": "0",
    }
    settings = Settings.from_env(env)
    warehouse = Warehouse(sandbox, settings.duckdb_path)
    log = tmp_path / "daemon.log"
    test_a, test_b, test_c, dormant = sandbox.test_ids

    instance = DagsterInstance.from_config(str(home))
    other_host = None
    try:
        # The storage really is PostgreSQL (the tables are created here, before the daemon starts).
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        add_tests(instance, sandbox.test_ids)

        def sync_runs(*statuses: DagsterRunStatus) -> list[RunRecord]:
            return instance.get_run_records(RunsFilter(job_name=SYNC_JOB_NAME, statuses=list(statuses)))

        other_host = OtherHost(
            api_resource(sandbox, rate_limit_store=limiter_store).get_client(), sandbox.test_ids
        )
        daemon = start_daemon(env)
        other_host.start()
        wait_for(lambda: sync_runs(DagsterRunStatus.STARTED), "a sync run to start", deadline, log)
        sandbox.add_sessions(test_a, 2)  # arriving while runs are going (perhaps its own)
        sandbox.add_sessions(dormant, 1)  # the first session of a test that had none
        wait_for(lambda: len(sync_runs(DagsterRunStatus.SUCCESS)) >= 2, "two synced tests", deadline, log)
        sandbox.add_sessions(test_b, 1)  # and after some tests were synced
        sandbox.add_sessions(test_c, 1)

        every_session = {s for t in sandbox.test_ids for s in sandbox.dataset.session_ids(t)}
        wait_for(
            lambda: warehouse.session_ids() >= every_session and not sync_runs(*IN_FLIGHT),
            "every session in the warehouse, no sync run queued or running",
            deadline,
            log,
        )
        synced_at = time.monotonic()
        other_host.stop()
        stop_daemon(daemon)  # the warehouse at rest: nothing writes it any more
        assert other_host.requests > 0

        runs = sync_runs()
        failed = [r.dagster_run.run_id for r in runs if r.dagster_run.status != DagsterRunStatus.SUCCESS]
        assert failed == [], f"sync runs that did not succeed: {failed}"
        assert overlap(runs), f"no two sync runs ran at the same time: {spans(runs)}"
        [state] = [s for s in instance.all_instigator_state() if s.name == SENSOR]
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        assert [t.error for t in ticks if t.status.value == "FAILURE"] == []
    finally:
        if other_host is not None:
            other_host.stopping.set()  # also when the test failed: no request after the sandbox stops
        instance.dispose()

    # The warehouse equals the sandbox: every session once, payloads and transcripts as served.
    assert_synced_as_served(warehouse, [t for t in sandbox.test_ids if sandbox.dataset.session_ids(t)])
    assert set(warehouse.table("sessions")["session_id"]) == every_session

    # 0 x 429: the sensor's process, the run workers and the other host took one budget, from Redis.
    requests = sandbox.requests
    assert [r for r in requests if r["status"] == 429] == []
    # ... and counted every request there (usertesting/api_budget): the counts in Redis are the
    # requests the sandbox served, per endpoint.
    counted: Counter[str] = Counter()
    with redis.Redis.from_url(limiter_store) as shared:
        for key in shared.scan_iter(match=store_key(sandbox.config.client_id) + ":requests:*"):
            counted.update({k.decode(): int(v) for k, v in shared.hgetall(key).items()})
    assert counted == Counter(r["endpoint"] for r in requests)
    assert not list(settings.data_dir.rglob("*rate-limit*")), "a process used a local limiter file"

    # No request spent twice: each session's details and each transcript asked for once.
    asked = Counter((r["endpoint"], route(r["path"])[1]) for r in requests)
    details = {s: n for (endpoint, s), n in asked.items() if endpoint == "session_details"}
    transcripts = {s: n for (endpoint, s), n in asked.items() if endpoint == "transcript"}
    with_transcripts = {
        s
        for t in sandbox.test_ids
        if sandbox.dataset.study(t).kind in TRANSCRIPT_KINDS
        for s in sandbox.dataset.session_ids(t)
    }
    assert details == dict.fromkeys(every_session, 1)
    # Every think-out-loud transcript once; a few sessions of other kinds are probed (once) in case
    # their test records transcripts after all.
    assert set(transcripts) >= with_transcripts
    assert set(transcripts.values()) == {1}
    print(
        f"topology test: {len(every_session)} sessions of {len(sandbox.test_ids)} tests in the warehouse "
        f"{synced_at - started:.1f} s after the start, by {len(runs)} sync runs; {len(requests)} API "
        f"requests, {sum(r['endpoint'] == 'list_sessions' for r in requests)} of them listings ("
        f"{other_host.requests} by the other host)"
    )

"""The new-sessions sensor under a real `dagster-daemon`, against the sandbox over HTTP.

One test is revoked and two are healthy. The warehouse stays locked until a first sync has failed on
it; the sensor then requests that test again, and both land. Meanwhile the daemon keeps ticking: the
revoked test is skipped, never failing a tick. The sensor is started by UT_SENSOR_RUNNING.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from ut_dagster.defs.usertesting.partitions import add_tests
from ut_dagster.environment import Settings
from ut_dagster.lib.landing import Landing
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.sandbox import SURVEY, StudySpec

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SENSOR = "usertesting_new_sessions"
DEADLINE_S = 540  # a bound for a busy machine, not a target (see the report for timings)

DAGSTER_YAML = """\
telemetry:
  enabled: false
# The research marts' automation sensor is not under test; without the asset daemon it does not run.
auto_materialize:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""


def wait_for(condition: Callable[[], object], what: str, deadline: float, log: Path) -> object:
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)  # polling a condition, bounded by the deadline
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    pytest.fail(f"Timed out waiting for {what}. Daemon log tail:\n{tail}")


@pytest.fixture
def daemon_env(tmp_path, start_sandbox) -> Iterator[tuple[dict[str, str], object]]:
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 3), StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "UT_DATA_DIR": str(tmp_path / "data"),
        "USERTESTING_BASE_URL": sandbox.url,
        "USERTESTING_TOKEN_URL": sandbox.token_url,
        "USERTESTING_CLIENT_ID": sandbox.config.client_id,
        "USERTESTING_CLIENT_SECRET": sandbox.config.client_secret,
        "USERTESTING_REQUESTS_PER_MINUTE": str(sandbox.config.requests_per_window),
        "USERTESTING_RATE_WINDOW_SECONDS": str(sandbox.config.window_seconds),
        "USERTESTING_BACKOFF_BASE_SECONDS": "0.01",
        "USERTESTING_BACKOFF_MAX_SECONDS": "0.05",
        # A sync meeting the locked warehouse fails after 1 s instead of waiting out the default 60 s.
        "UT_DUCKDB_LOCK_TIMEOUT_SECONDS": "1",
        # Tick as often as the daemon loops (every 5 s) and check every test on every tick.
        "UT_SENSOR_RUNNING": "true",
        "UT_SENSOR_INTERVAL_SECONDS": "1",
        "UT_SENSOR_ACTIVE_MINUTES": "0",
        "UT_SENSOR_DORMANT_HOURS": "0",
    }
    yield env, sandbox


@pytest.mark.timeout(DEADLINE_S + 60)
def test_daemon_syncs_healthy_tests_requests_failed_runs_again_and_keeps_ticking(daemon_env, tmp_path):
    env, sandbox = daemon_env
    deadline = time.monotonic() + DEADLINE_S
    revoked, *healthy = sandbox.test_ids
    sandbox.revoke_test(revoked)
    settings = Settings.from_env(env)
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    add_tests(instance, sandbox.test_ids)
    log = tmp_path / "daemon.log"

    settings.duckdb_path.parent.mkdir(parents=True)
    warehouse_lock = duckdb.connect(str(settings.duckdb_path))  # the first syncs cannot write
    with open(log, "wb") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the code server and runs stop with it
        )
    try:
        runs = lambda status: {  # noqa: E731
            r.dagster_run.tags.get("dagster/partition")
            for r in instance.get_run_records(RunsFilter(statuses=[status]))
        }
        failed = wait_for(
            lambda: set(healthy) & runs(DagsterRunStatus.FAILURE), "a failed sync", deadline, log
        )
        for test_id in healthy:
            sandbox.add_sessions(test_id, 1)  # sessions keep arriving
        warehouse_lock.close()
        wait_for(lambda: set(healthy) <= runs(DagsterRunStatus.SUCCESS), "successful syncs", deadline, log)
        for test_id in failed:  # requested again after its failure, and then it succeeded
            records = instance.get_run_records(
                RunsFilter(tags={"dagster/partition": test_id}), ascending=True
            )
            statuses = [r.dagster_run.status for r in records]
            assert DagsterRunStatus.SUCCESS in statuses[statuses.index(DagsterRunStatus.FAILURE) :]

        # A session that arrived while a run was going is synced by the next run the sensor requests.
        landing = Landing(ObjectStoreResource(url=settings.object_store).store())
        wait_for(
            lambda: all(
                landing.landed_session_ids(t) == set(sandbox.dataset.session_ids(t)) for t in healthy
            ),
            "every session landed",
            deadline,
            log,
        )
        assert not instance.get_run_records(RunsFilter(tags={"dagster/partition": revoked}))

        # The daemon keeps ticking, and no tick failed on the revoked test.
        [state] = [s for s in instance.all_instigator_state() if s.name == SENSOR]
        count = len(instance.get_ticks(state.instigator_origin_id, state.selector_id))
        wait_for(
            lambda: len(instance.get_ticks(state.instigator_origin_id, state.selector_id)) > count,
            "another sensor tick",
            deadline,
            log,
        )
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        assert [t for t in ticks if t.status.value == "FAILURE"] == []
    finally:
        warehouse_lock.close()
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        finally:
            # Its code servers and run workers can outlive it: end the whole process group it led.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        instance.dispose()

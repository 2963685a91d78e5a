"""Syncs started the three ways a user starts them, for the benchmarks: the CLI, a run submitted
through the Dagster instance (what the UI's "Materialize" does: queued, then launched by the daemon),
and the sensor (evaluated by the daemon). Every process here is started and stopped by us.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
MODULE = "ut_dagster.definitions"
SYNC_JOB = "usertesting_sync"
SENSOR = "usertesting_new_sessions"


def environment(sandbox: Any, root: Path, **extra: str) -> dict[str, str]:
    """What a user sets to point ut-dagster at `sandbox`, with all state under `root`."""
    from ut_dagster.cli.sync import DEFAULT_INSTANCE_YAML

    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    # On a loaded machine loading the code location takes minutes; the default 180 s fails runs.
    (home / "dagster.yaml").write_text(
        DEFAULT_INSTANCE_YAML + "code_servers:\n  local_startup_timeout: 900\n"
    )
    return {
        **os.environ,
        "UT_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(home),
        "USERTESTING_BASE_URL": sandbox.url,
        "USERTESTING_TOKEN_URL": sandbox.token_url,
        "USERTESTING_CLIENT_ID": sandbox.config.client_id,
        "USERTESTING_CLIENT_SECRET": sandbox.config.client_secret,
        "USERTESTING_REQUESTS_PER_MINUTE": str(sandbox.config.requests_per_window),
        "USERTESTING_RATE_WINDOW_SECONDS": str(sandbox.config.window_seconds),
        **extra,
    }


def cli_sync(env: dict[str, str], test_id: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "ut-dagster"), "sync", test_id], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def submit_run(env: dict[str, str], test_id: str) -> str:
    """Submit a sync run of the test's partition to the instance's run queue; returns the run ID."""
    run_id = str(uuid.uuid4())
    subprocess.run(
        [
            str(BIN / "dagster"),
            "job",
            "launch",
            "-m",
            MODULE,
            "-j",
            SYNC_JOB,
            "--run-id",
            run_id,
            "--tags",
            json.dumps({"dagster/partition": test_id}),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return run_id


@contextmanager
def daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster-daemon run` for the instance in env (dequeues submitted runs, ticks sensors)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-m", MODULE], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_sensor(env: dict[str, str], name: str = SENSOR) -> None:
    subprocess.run(
        [str(BIN / "dagster"), "sensor", "start", name, "-m", MODULE],
        env=env,
        check=True,
        capture_output=True,
    )


def run_times(env: dict[str, str], run_id: str) -> dict[str, Any] | None:
    """Status, created/started/ended epoch seconds of a run, or None before it exists."""
    from dagster import DagsterInstance

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as instance:
            record = instance.get_run_record_by_id(run_id)
            if record is None:
                return None
            stats = instance.get_run_stats(run_id)
            return {
                "status": record.dagster_run.status.value,
                "created": record.create_timestamp.timestamp(),
                "started": stats.start_time,
                "ended": stats.end_time,
            }
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def run_failure(env: dict[str, str], run_id: str) -> str:
    """The error messages a failed run logged (for the result's details)."""
    import logging

    from dagster import DagsterInstance

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as instance:
            errors = [e.user_message for e in instance.all_logs(run_id) if e.level >= logging.ERROR]
            return " | ".join(errors)[-2000:]
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def wait_for_run(env: dict[str, str], run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        times = run_times(env, run_id)
        if times and times["status"] in FINISHED:
            return times
        time.sleep(1.0)  # polling another process's run; there is nothing to wait on
    raise TimeoutError(f"run {run_id} did not finish within {timeout:.0f} s")


def runs_launched_by_sensor(env: dict[str, str]) -> list[str]:
    from dagster import DagsterInstance, RunsFilter

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as instance:
            records = instance.get_run_records(RunsFilter(tags={"dagster/sensor_name": SENSOR}))
            return [r.dagster_run.run_id for r in records]
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous

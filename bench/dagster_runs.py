"""Syncs started the three ways a user starts them, for the benchmarks: the CLI, a run submitted
through the Dagster instance (what the UI's "Materialize" does: queued, then launched by the daemon),
and the sensor (evaluated by the daemon). Every process here is started and stopped by us.

A run is submitted either by `dagster job launch` (a process of its own, still loading and exiting
while the run starts) or, as the UI does, by a GraphQL request to a running `dagster-webserver`.
"""

from __future__ import annotations

import json
import os
import socket
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
        **sandbox.client_environment(),
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
            _stop(process)


@contextmanager
def webserver(env: dict[str, str], log: Path, timeout: float = 600.0) -> Iterator[str]:
    """`dagster-webserver` for the instance in env (what `make dev` serves); yields its GraphQL URL
    once the code location is loaded, as a user's browser finds it."""
    with socket.socket() as probe:  # a free port on 127.0.0.1
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-m", MODULE, "-h", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/graphql"
        try:
            _wait_until_loaded(url, process, timeout)
            yield url
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    import httpx

    response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=120)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def _wait_until_loaded(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {process.returncode}")
        try:
            entries = _graphql(url, query)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.5)  # polling another process's start-up
    raise TimeoutError(f"dagster-webserver did not load the code location within {timeout:.0f} s")


def _repository(url: str) -> dict[str, str]:
    query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
    [node] = _graphql(url, query)["repositoriesOrError"]["nodes"]
    return {"repositoryName": node["name"], "repositoryLocationName": node["location"]["name"]}


def submit_run_from_ui(url: str, test_id: str) -> str:
    """What the UI's launch of a sync does: a GraphQL `launchRun` of the test's partition (queued for
    the daemon); returns the run ID."""
    mutation = """
    mutation($params: ExecutionParams!) {
      launchRun(executionParams: $params) {
        __typename
        ... on LaunchRunSuccess { run { runId } }
        ... on PythonError { message }
      }
    }"""
    params = {
        "selector": {**_repository(url), "jobName": SYNC_JOB},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": test_id}]},
        "runConfigData": {},
    }
    result = _graphql(url, mutation, {"params": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launchRun: {result}")
    return result["run"]["runId"]


def start_sensor_from_ui(url: str, name: str = SENSOR) -> None:
    """What the UI's sensor toggle does."""
    mutation = """
    mutation($selector: SensorSelector!) {
      startSensor(sensorSelector: $selector) { __typename ... on PythonError { message } }
    }"""
    result = _graphql(url, mutation, {"selector": {**_repository(url), "sensorName": name}})["startSensor"]
    if result["__typename"] != "Sensor":
        raise RuntimeError(f"startSensor: {result}")


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


def run_phases(env: dict[str, str], run_id: str) -> dict[str, float]:
    """Seconds a finished run spent queued (until the daemon launched it), starting its process
    (interpreter, imports, instance, code location) and executing."""
    from dagster import DagsterEventType, DagsterInstance

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as instance:
            created = instance.get_run_record_by_id(run_id).create_timestamp.timestamp()  # type: ignore[union-attr]
            starting = min(
                (e.timestamp for e in instance.all_logs(run_id, of_type=DagsterEventType.RUN_STARTING)),
                default=created,
            )
            stats = instance.get_run_stats(run_id)
            start, end = stats.start_time or starting, stats.end_time or starting
            return {
                "queued": round(starting - created, 1),
                "process_start": round(start - starting, 1),
                "execution": round(end - start, 1),
            }
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


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

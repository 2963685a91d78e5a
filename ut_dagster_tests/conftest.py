"""Fixtures shared across the suite: a sandbox API on 127.0.0.1 and resources pointed at it.

Every server a test starts is stopped by that test's fixture teardown.
"""

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetsDefinition, DagsterInstance

from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.testing import SandboxConfig, SandboxServer
from dagster_usertesting.testing.in_process import in_process_resource

if "PYTEST_XDIST_WORKER" not in os.environ:
    # dbt's manifest reflects the models as they are now (after an edit, on a fresh checkout), made
    # once by the dbt component's own preparation (`dg utils refresh-defs-state`), before
    # pytest-xdist starts the workers that load it, and only when a project file changed since
    # (`make test` has just prepared it): a `dbt parse` is ~15 s of CPU.
    from dagster_dbt import DbtProject

    from ut_dagster.defs.research_marts.project import dbt_project_dir, manifest_outdated

    if manifest_outdated(DbtProject(dbt_project_dir())):
        subprocess.run(
            [Path(sys.executable).with_name("dg"), "utils", "refresh-defs-state"],
            cwd=Path(__file__).resolve().parents[1],
            check=True,
        )


@pytest.fixture(scope="session")
def usertesting_dbt_assets(tmp_path_factory: pytest.TempPathFactory) -> AssetsDefinition:
    """The dbt assets as the code location builds them (the component of defs/research_marts), eager:
    rebuilt after every change (UT_MARTS_MIN_INTERVAL_MINUTES=0; the interval has its own tests)."""
    from ut_dagster.definitions import build_definitions
    from ut_dagster.environment import Settings

    data = str(tmp_path_factory.mktemp("dbt_assets"))
    settings = Settings.from_env({"UT_DATA_DIR": data, "UT_MARTS_MIN_INTERVAL_MINUTES": "0"})
    with DagsterInstance.ephemeral():
        defs = build_definitions(settings)
    # As defined, without the code location's resources bound (resolve_assets_def binds them).
    test_summary = AssetKey(["usertesting_marts", "test_summary"])
    return next(a for a in defs.assets or [] if isinstance(a, AssetsDefinition) and test_summary in a.keys)


# Fast enough for tests, slow enough that the limiter is really exercised.
FAST = {"requests_per_window": 50, "window_seconds": 1.0}


@pytest.fixture(scope="module", autouse=True)
def live_current_instance() -> Iterator[None]:
    """Each test module starts with a live current Dagster instance.

    Loading definitions reads the current instance's definitions state; an instance a previous
    module made current and disposed of fails that read ("undefined DagsterInstance weakref").
    """
    with DagsterInstance.ephemeral():
        yield


@pytest.fixture(autouse=True)
def live_current_instance_per_test(live_current_instance: None) -> Iterator[None]:
    """... and so does each test (about 60 ms each): a test that loads definitions must not depend on
    which test ran before it in the same worker (seen: `undefined DagsterInstance weakref` in a
    clean clone's run, for tests that passed in another order). Its cause: a `build_schedule_context`
    used without `with` keeps an entered instance; collected during a later test, it set Dagster's
    current definitions state back to a dead instance's. Close every Dagster context you build."""
    with DagsterInstance.ephemeral():
        yield


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    started: list[SandboxServer] = []

    def start(**config: object) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**{**FAST, **config})).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _resource_factory(tmp_path, in_process: bool) -> Iterator[Callable[..., UserTestingResource]]:
    built: list[UserTestingResource] = []

    def build(sandbox: SandboxServer, **overrides: object) -> UserTestingResource:
        settings: dict[str, object] = {
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "requests_per_minute": sandbox.config.requests_per_window,
            "rate_window_seconds": sandbox.config.window_seconds,
            "rate_limit_store": str(tmp_path / "rate-limit.sqlite"),
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            **overrides,
        }
        if in_process:
            resource: UserTestingResource = in_process_resource(sandbox, **settings)
        else:
            resource = UserTestingResource(
                **{"base_url": sandbox.url, "token_url": sandbox.token_url, **settings}
            )
        built.append(resource)
        return resource

    yield build
    for resource in built:
        resource.close()


@pytest.fixture
def api_resource(tmp_path) -> Iterator[Callable[..., UserTestingResource]]:
    """Builds a UserTestingResource for a sandbox over HTTP, with client credentials and a shared limiter file.

    For the tests of the client, limiter and transport, and of processes that reach the sandbox over HTTP.
    """
    yield from _resource_factory(tmp_path, in_process=False)


@pytest.fixture
def sandbox_resource(tmp_path) -> Iterator[Callable[..., UserTestingResource]]:
    """As `api_resource`, with the sandbox answering in process (no socket): for pipeline tests.

    The same client, limiter and retries, and the same sandbox log, faults and rate windows.
    """
    yield from _resource_factory(tmp_path, in_process=True)


@pytest.fixture
def cli_env(tmp_path) -> Callable[[SandboxServer], dict[str, str]]:
    """The environment a user would set to run `ut-dagster` against a sandbox, state under tmp_path."""

    def env(sandbox: SandboxServer) -> dict[str, str]:
        return {
            **os.environ,
            "UT_DATA_DIR": str(tmp_path / "data"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "USERTESTING_BASE_URL": sandbox.url,
            "USERTESTING_TOKEN_URL": sandbox.token_url,
            "USERTESTING_CLIENT_ID": sandbox.config.client_id,
            "USERTESTING_CLIENT_SECRET": sandbox.config.client_secret,
            "USERTESTING_REQUESTS_PER_MINUTE": str(sandbox.config.requests_per_window),
            "USERTESTING_RATE_WINDOW_SECONDS": str(sandbox.config.window_seconds),
        }

    return env


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with fake credentials (and no user AWS config that could leak in)."""
    from moto.server import ThreadedMotoServer

    empty = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def assert_synced_as_served() -> Callable[..., None]:
    """Asserts a synced warehouse holds, per test, exactly what the sandbox served, once.

    `synced` is anything with `.sandbox` and `.table(name)` -> every row of a table, with its test_id
    (DuckDB or Snowflake pipelines); each table is read once.
    """

    def check(synced: Any, test_ids: list[str]) -> None:
        dataset = synced.sandbox.dataset
        whole = functools.cache(synced.table)  # one warehouse connection per table, not per test

        def table(name: str, test_id: str) -> Any:
            rows = whole(name)
            return rows[rows.test_id == test_id]

        for test_id in test_ids:
            expected_ids = set(dataset.session_ids(test_id))
            for name in ("raw_sessions", "session_details", "sessions"):
                ids = table(name, test_id)["session_id"]
                assert set(ids) == expected_ids and ids.is_unique, name

            for row in table("session_details", test_id).itertuples():
                assert json.loads(row.details_json) == dataset.served_payload(row.session_id)

            tasks = table("tasks", test_id)
            for session_id in expected_ids:
                served = dataset.served_payload(session_id)["tasks"]
                rows = tasks[tasks.session_id == session_id].sort_values("position")
                assert len(rows) == len(served)
                for row, task in zip(rows.itertuples(), served, strict=True):
                    answer = (task.get("response") or {}).get("answer")
                    assert (json.loads(row.answer_json) if row.answer_json is not None else None) == answer
                    assert row.task_type == task["type"]

            served_demographics = sum(
                len((dataset.served_payload(s).get("sessionParticipant") or {}).get("demographicsInfo") or [])
                for s in expected_ids
            )
            assert len(table("demographics", test_id)) == served_demographics

            transcripts = table("transcripts", test_id)
            with_transcript = {s for s in expected_ids if dataset.transcript(s) is not None}
            assert set(transcripts.session_id) == with_transcript
            for row in transcripts.itertuples():
                assert row.transcript_vtt == dataset.transcript(row.session_id)
                assert "-->" not in row.transcript_plain_text
            cues = transcripts.set_index("session_id")["cue_count"]
            chunks = table("transcript_chunks", test_id)
            assert set(chunks.session_id) == {s for s in with_transcript if cues[s] > 0}

        qx = whole("qx_scores")
        assert set(qx.test_id) == {t for t in test_ids if dataset.qx_scores(t) is not None}

    return check

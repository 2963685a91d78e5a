"""The integration as another Dagster project uses it: five lines of YAML in its own defs folder.

No ut-dagster here: a temporary `dg` project whose only source is a defs.yaml naming
`UserTestingSyncComponent`, loaded with Dagster's public `load_from_defs_folder`, and one test's
partition materialized against the sandbox over HTTP on 127.0.0.1 into a DuckDB file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest
import yaml
from dagster import (
    AssetExecutionContext,
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    ExecuteInProcessResult,
    SensorResult,
    build_sensor_context,
    load_from_defs_folder,
)

from dagster_usertesting import SyncStep, UserTestingSyncComponent
from dagster_usertesting.defs.assets import SYNC_STEPS, TESTS_STEPS, keys_of
from dagster_usertesting.settings import SensorSettings, SettingsError, SyncSettings, sync_variables
from dagster_usertesting.testing import SURVEY, SandboxConfig, SandboxServer, StudySpec


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(
        SandboxConfig(
            studies=(StudySpec(SURVEY, 3), StudySpec(SURVEY, 2)), requests_per_window=50, window_seconds=1.0
        ),
        port=0,
    ) as server:
        yield server


@pytest.fixture
def credential(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The credential and pacing in the environment, where the component reads them."""
    for name, value in sandbox.client_environment().items():
        monkeypatch.setenv(name, value)
    for name in ("UT_DATA_DIR", "UT_WAREHOUSE", "UT_DUCKDB_PATH", "UT_OBJECT_STORE", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)


def empty_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `dg` project at `root` with an empty defs folder, importable; returns its package."""
    # A module name of its own per project: Python keeps the modules of earlier ones imported.
    project = f"research_analytics_{uuid.uuid4().hex[:8]}"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        f'[tool.dg]\ndirectory_type = "project"\n\n[tool.dg.project]\nroot_module = "{project}"\n'
    )
    (root / project / "defs").mkdir(parents=True)
    (root / project / "__init__.py").write_text("")
    (root / project / "defs" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    return root / project


def another_project(root: Path, defs_yaml: str, monkeypatch: pytest.MonkeyPatch) -> Definitions:
    """A `dg` project at `root` whose one source is defs/usertesting/defs.yaml, loaded."""
    package = empty_project(root, monkeypatch)
    folder = package / "defs" / "usertesting"
    folder.mkdir()
    (folder / "defs.yaml").write_text(textwrap.dedent(defs_yaml))
    return load_from_defs_folder(path_within_project=package)


def sync_partition(defs: Definitions, test_id: str) -> ExecuteInProcessResult:
    """One run of `usertesting_sync` for a registered test, in a fresh instance; failures returned."""
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("usertesting_tests", [test_id])
        return defs.resolve_job_def("usertesting_sync").execute_in_process(
            instance=instance, partition_key=test_id, raise_on_error=False
        )


def synced_sessions(data_dir: Path, test_id: str) -> int:
    """The test's rows in the DuckDB file of a component whose data_dir is `data_dir`."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as warehouse:
        (count,) = warehouse.execute(
            "SELECT count(*) FROM usertesting.sessions WHERE test_id = ?", [test_id]
        ).fetchone()
    return count


def test_five_lines_of_yaml_sync_one_test_into_duckdb(
    sandbox: SandboxServer, credential: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_id = sandbox.test_ids[0]
    data = tmp_path / "data"
    defs = another_project(
        tmp_path / "project",
        f"""\
        type: dagster_usertesting.UserTestingSyncComponent
        attributes:
          data_dir: {data}
          tests: ["{test_id}"]
          videos: false
          translation:
            group_name: research
            owners: ["team:research"]
        """,
        monkeypatch,
    )

    with DagsterInstance.ephemeral() as instance:
        # The `tests` attribute registers the test as a partition, without an API request.
        tick = defs.resolve_sensor_def("usertesting_register_tests")(build_sensor_context(instance=instance))
        assert isinstance(tick, SensorResult)
        for request in tick.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys or []))
        assert instance.get_dynamic_partitions("usertesting_tests") == [test_id]
        requests_before = len(sandbox.requests)

        result = defs.resolve_job_def("usertesting_sync").execute_in_process(
            instance=instance, partition_key=test_id
        )

    assert result.success
    assert len(sandbox.requests) > requests_before
    assert synced_sessions(data, test_id) == len(sandbox.dataset.sessions(test_id))

    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    tasks = specs[AssetKey(["usertesting", "tasks"])]
    assert tasks.group_name == "research"
    assert tasks.owners == ["team:research"]
    assert "duckdb" in tasks.kinds
    assert AssetKey(["usertesting", "session_videos"]) not in specs  # videos: false
    with pytest.raises(Exception, match="usertesting_sync_with_videos"):
        defs.resolve_job_def("usertesting_sync_with_videos")


class TimedSyncComponent(UserTestingSyncComponent):
    """A user's subclass: every step of the sync goes through its own `execute`."""

    steps: ClassVar[list[tuple[str, str | None, int]]] = []

    def execute(self, context: AssetExecutionContext, step: SyncStep) -> Iterator[Any]:
        events = list(step.run())
        TimedSyncComponent.steps.append((step.name, step.partition_key, len(events)))
        yield from events


def test_a_subclass_runs_every_step_through_its_execute_in_its_own_pool(
    sandbox: SandboxServer, credential: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_id = sandbox.test_ids[1]
    data = tmp_path / "data"
    defs = another_project(
        tmp_path / "project",
        f"""\
        type: {__name__}.TimedSyncComponent
        attributes:
          data_dir: {data}
          videos: false
          pool: research_vendor_api
        """,
        monkeypatch,
    )
    # Every asset that calls the API, the test list's included; the budget observation calls none.
    pools = {defs.resolve_assets_def(key).op.pool for key in keys_of(SYNC_STEPS + TESTS_STEPS)}
    assert pools == {"research_vendor_api"}

    TimedSyncComponent.steps.clear()
    result = sync_partition(defs, test_id)

    assert result.success
    names = [name for name, _, _ in TimedSyncComponent.steps]
    assert names == ["raw_sessions", "session_tables", "transcript_tables", "qx_scores", "clip_tables"]
    assert {partition for _, partition, _ in TimedSyncComponent.steps} == {test_id}
    assert all(events > 0 for _, _, events in TimedSyncComponent.steps)
    # What the wrapped steps yielded reached Dagster: the test's sessions are in the warehouse.
    assert synced_sessions(data, test_id) == len(sandbox.dataset.sessions(test_id))


class TwiceSyncComponent(UserTestingSyncComponent):
    """A mistaken subclass: it runs each step a second time."""

    def execute(self, context: AssetExecutionContext, step: SyncStep) -> Iterator[Any]:
        yield from step.run()
        yield from step.run()


def test_an_execute_that_runs_a_step_twice_fails_it_without_asking_the_api_again(
    sandbox: SandboxServer, credential: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_id = sandbox.test_ids[0]
    defs = another_project(
        tmp_path / "project",
        f"""\
        type: {__name__}.TwiceSyncComponent
        attributes:
          data_dir: {tmp_path / "data"}
          videos: false
        """,
        monkeypatch,
    )
    result = sync_partition(defs, test_id)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "usertesting__raw_sessions"
    assert "was run twice by an execute()" in str(failure.step_failure_data.error)
    # The listing was asked for once: the second run raised before any request.
    listings = [r for r in sandbox.requests if r["endpoint"] == "list_sessions"]
    assert len(listings) == 1


def test_dg_scaffold_writes_a_defs_yaml_that_loads_and_registers_its_tests(
    sandbox: SandboxServer, credential: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = empty_project(tmp_path / "project", monkeypatch)
    tests = sandbox.test_ids
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    scaffolded = subprocess.run(
        [
            Path(sys.executable).with_name("dg"),
            "scaffold",
            "defs",
            "dagster_usertesting.UserTestingSyncComponent",
            "usertesting",
            f"--tests={','.join(tests)}",
        ],
        cwd=tmp_path / "project",
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    written = yaml.safe_load((package / "defs" / "usertesting" / "defs.yaml").read_text())
    assert written == {
        "type": "dagster_usertesting.UserTestingSyncComponent",
        "attributes": {"warehouse": "duckdb", "duckdb_path": "data/warehouse.duckdb", "tests": tests},
    }

    defs = load_from_defs_folder(path_within_project=package)
    with DagsterInstance.ephemeral() as instance:
        tick = defs.resolve_sensor_def("usertesting_register_tests")(build_sensor_context(instance=instance))
    assert isinstance(tick, SensorResult)
    assert [list(r.partition_keys or []) for r in tick.dynamic_partitions_requests or []] == [tests]
    assert defs.resolve_job_def("usertesting_sync_with_videos")


def test_a_secret_in_yaml_is_refused_naming_where_it_belongs(
    credential: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Exception) as refused:
        another_project(
            tmp_path / "project",
            """\
            type: dagster_usertesting.UserTestingSyncComponent
            attributes:
              settings:
                USERTESTING_CLIENT_SECRET: hunter2
            """,
            monkeypatch,
        )
    causes = [refused.value]
    while causes[-1].__cause__ is not None:
        causes.append(causes[-1].__cause__)
    messages = " | ".join(str(exc) for exc in causes)
    assert "USERTESTING_CLIENT_SECRET is a secret: set it in the environment, not in YAML." in messages
    assert "hunter2" not in messages


def test_settings_from_environment_templates_keep_numbers_zeros_and_switches(
    credential: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dagster renders "{{ env(...) }}" of "0" as the number 0: a zero is a value, not "unset".
    monkeypatch.setenv("UT_SENSOR_RUNNING", "true")
    monkeypatch.setenv("UT_SENSOR_ACTIVE_MINUTES", "0")
    monkeypatch.setenv("UT_SYNC_CRON", "15 3 * * *")
    defs = another_project(
        tmp_path / "project",
        """\
        type: dagster_usertesting.UserTestingSyncComponent
        attributes:
          settings:
            UT_SENSOR_RUNNING: "{{ env('UT_SENSOR_RUNNING', '') }}"
            UT_SENSOR_ACTIVE_MINUTES: "{{ env('UT_SENSOR_ACTIVE_MINUTES', '') }}"
            UT_SENSOR_BATCH: "{{ env('UT_SENSOR_BATCH', '') }}"
            UT_SYNC_CRON: "{{ env('UT_SYNC_CRON', '') }}"
            UT_RUN_MAX_HOURS: 2
        """,
        monkeypatch,
    )
    assert defs.resolve_sensor_def("usertesting_new_sessions").default_status == DefaultSensorStatus.RUNNING
    assert defs.resolve_schedule_def("usertesting_scheduled_sync").cron_schedule == "15 3 * * *"
    # The YAML's limit, not this process's environment's (run monitoring fails a sync run past it).
    assert defs.resolve_job_def("usertesting_sync").tags["dagster/max_runtime"] == "7200"

    component = UserTestingSyncComponent(settings={"UT_SENSOR_ACTIVE_MINUTES": 0, "UT_SENSOR_BATCH": ""})
    sensors = component.sync_settings({}).sensors
    assert (sensors.active_minutes, sensors.batch) == (0.0, SensorSettings().batch)


def test_a_misspelt_setting_is_refused_with_the_one_meant() -> None:
    # Ignored, it would silently be the default: a nightly sync at 02:00 instead of the one asked for.
    with pytest.raises(SettingsError, match=r"UT_SYNC_CORN is not a setting .* Did you mean UT_SYNC_CRON\?"):
        UserTestingSyncComponent(settings={"UT_SYNC_CORN": "0 3 * * *"}).sync_settings({})
    every_setting = {name: "" for name in sync_variables() if name.startswith("UT_")}
    assert UserTestingSyncComponent(settings=every_setting).sync_settings({}) == SyncSettings.from_env({})

"""The Dagster instance `make dev` and `ut-dagster sync` share, and its API pool limit."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance

from ut_dagster.cli.dagster_home import prepare_dagster_home
from ut_dagster.environment import Settings


def _home_for(env: dict[str, str], cwd: Path) -> Path:
    """What `make dev` runs to choose DAGSTER_HOME."""
    result = subprocess.run(
        [sys.executable, "-m", "ut_dagster.cli.dagster_home"],
        env={k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "UT_DATA_DIR")} | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return Path(result.stdout.strip())


def test_make_dev_follows_ut_data_dir_and_dagster_home(tmp_path: Path) -> None:
    data = tmp_path / "elsewhere"
    assert _home_for({"UT_DATA_DIR": str(data)}, tmp_path) == data / "dagster_home"
    assert _home_for({}, tmp_path) == tmp_path / ".ut_data" / "dagster_home"
    own = tmp_path / "own_home"
    assert _home_for({"DAGSTER_HOME": str(own), "UT_DATA_DIR": str(data)}, tmp_path) == own


def test_a_fresh_home_limits_the_usertesting_api_pool_to_one_slot(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = prepare_dagster_home(Settings.from_env({"UT_DATA_DIR": str(tmp_path)}))
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_a_fresh_home_dequeues_runs_every_second_and_launches_them_side_by_side(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = prepare_dagster_home(Settings.from_env({"UT_DATA_DIR": str(tmp_path)}))
    with DagsterInstance.from_config(str(home)) as instance:
        coordinator = instance.run_coordinator
        # Still the queue (its limits apply), only looked at more often than Dagster's 5 s.
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.dequeue_interval_seconds == 1  # type: ignore[attr-defined]
        assert coordinator.dequeue_use_threads  # type: ignore[attr-defined]


def test_an_existing_dagster_yaml_is_left_alone(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert prepare_dagster_home(Settings.from_env()) == tmp_path
    assert (tmp_path / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_a_fresh_home_monitors_runs_so_an_interrupted_run_is_failed_and_gives_its_slot_back(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = prepare_dagster_home(Settings.from_env({"UT_DATA_DIR": str(tmp_path)}))
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_monitoring_enabled  # the daemon runs the monitoring daemon
        assert instance.run_monitoring_start_timeout_seconds == 180  # a run that never starts
        assert instance.run_monitoring_cancel_timeout_seconds == 180  # a cancel that never ends
        # The default run launcher cannot resume a run; Dagster refuses any other value for it.
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_poll_interval_seconds == 60
        # Slots of ended runs (failed by monitoring, a timeout or run recovery) are freed a minute later.
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60


def test_a_home_with_an_earlier_default_dagster_yaml_gets_the_current_one(
    tmp_path: Path, monkeypatch
) -> None:
    earlier = "concurrency:\n  pools:\n    default_limit: 1\nrun_queue:\n  dequeue_interval_seconds: 1\n"
    (tmp_path / "dagster.yaml").write_text(earlier)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    prepare_dagster_home(Settings.from_env())
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1

"""The code location as a user deploys it: everything loads, and the UI names where data lives."""

import subprocess
import sys

from dagster import AssetKey, JobDefinition

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME, tests_refresh_job
from ut_dagster.cli.sync import sync_definitions
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


def _kinds(settings: Settings, name: str) -> set[str]:
    defs = build_definitions(settings)
    return set(
        defs.resolve_assets_def(AssetKey(["usertesting", name]))
        .specs_by_key[AssetKey(["usertesting", name])]
        .kinds
    )


def test_tables_and_videos_show_the_configured_warehouse_and_store(tmp_path, monkeypatch):
    local = Settings.from_env({"UT_DATA_DIR": str(tmp_path)})
    assert {"duckdb"} <= _kinds(local, "tasks") and "snowflake" not in _kinds(local, "tasks")
    assert {"duckdb", "file"} <= _kinds(local, "session_videos") and "s3" not in _kinds(
        local, "session_videos"
    )

    for name in ("ACCOUNT", "USER", "DATABASE", "PASSWORD"):
        monkeypatch.setenv(f"SNOWFLAKE_{name}", "example")
    production = Settings.from_env(
        {"UT_DATA_DIR": str(tmp_path), "UT_WAREHOUSE": "snowflake", "UT_OBJECT_STORE": "s3://bucket/ut"}
    )
    assert "snowflake" in _kinds(production, "raw_sessions")
    assert {"snowflake", "s3"} <= _kinds(production, "session_videos")


def test_ut_dagster_sync_runs_the_code_locations_own_sync_jobs(tmp_path):
    """`ut-dagster sync` builds the sync alone (no dbt, seconds faster): its jobs must run the same
    steps, with the same outputs and checks, on the same assets and resources as the code location's."""
    settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path)})
    code_location, cli = build_definitions(settings), sync_definitions(settings)
    for name in (SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME, tests_refresh_job.name):
        theirs, ours = code_location.resolve_job_def(name), cli.resolve_job_def(name)
        assert _steps(ours) == _steps(theirs), name


def test_ut_dagster_sync_loads_no_dbt(tmp_path):
    # A fresh interpreter: this test process has imported dagster-dbt already.
    code = (
        "import sys\n"
        "from ut_dagster.cli.sync import sync_definitions\n"
        "from ut_dagster.environment import Settings\n"
        f"sync_definitions(Settings.from_env({{'UT_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dbt', 'dagster_dbt')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _steps(job: JobDefinition) -> tuple[object, ...]:
    snapshot = job.get_job_snapshot()
    return (
        snapshot.dep_structure_snapshot,
        snapshot.node_defs_snapshot,
        job.asset_layer.selected_asset_keys,
        sorted(job.get_required_resource_defs()),
    )

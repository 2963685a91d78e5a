"""The order in which `make test` hands test files to its workers: long files first, longest first."""

from pathlib import Path

import pytest

# Test files that take long under `make test` on a 2-core machine, in seconds (from `--durations=0`;
# only their order matters). `make test` hands whole files to its workers in the order collected
# (`--dist loadfile --no-loadscope-reorder`), and the root conftest.py puts these first, longest
# first. Handed out last, a long file ran alone at the end while the other workers idled: xdist's own
# order (most tests first) put the one-test topology and engine-model files last. A file missing
# here only runs later; a path that no longer exists fails test_long_files_exist.
LONG_FILES: dict[str, int] = {
    "ut_dagster_tests/sensors/test_sensor_daemon.py": 125,
    "ut_dagster_tests/topology/test_topology.py": 110,
    "ut_dagster_tests/install/test_install_wheel.py": 90,
    "ut_dagster_tests/dbt/test_qx_score_drop_alert_duckdb.py": 90,
    "ut_dagster_tests/pipeline/test_pipeline_bad_answers.py": 75,
    "ut_dagster_tests/install/test_dg.py": 60,
    "integrations/dagster-usertesting/dagster_usertesting_tests/sync/test_engine_model.py": 50,
    "ut_dagster_tests/pipeline/test_pipeline_sync.py": 50,
    "ut_dagster_tests/cli/test_status_catch_up.py": 48,
    "ut_dagster_tests/cli/test_status_and_forget.py": 38,
    "ut_dagster_tests/sensors/test_new_sessions_sensor.py": 35,
    "ut_dagster_tests/pipeline/test_pipeline_cli.py": 35,
    "ut_dagster_tests/ui/test_job_views.py": 27,
    "ut_dagster_tests/dbt/test_dbt_marts_duckdb.py": 26,
    "ut_dagster_tests/pipeline/test_pipeline_marts.py": 25,
    "ut_dagster_tests/production/test_production_sync.py": 24,
    "ut_dagster_tests/checks/test_checks_by_test_in_ui.py": 23,
    "ut_dagster_tests/warehouse/test_duckdb_io_manager.py": 22,
    "ut_dagster_tests/videos/test_videos_killed_download.py": 20,
    "integrations/dagster-usertesting/dagster_usertesting_tests/usertesting/test_usertesting_client.py": 20,
    "ut_dagster_tests/pipeline/test_pipeline_deletions.py": 20,
    "ut_dagster_tests/install/test_integration_alone.py": 18,
    "ut_dagster_tests/pipeline/test_pipeline_clips.py": 18,
    "ut_dagster_tests/dbt/test_dbt_failed_build.py": 16,
}


def long_files_first(root: Path, items: list[pytest.Item]) -> None:
    """Long files first, longest first; the rest keep their order (the sort is stable)."""

    def seconds(item: pytest.Item) -> int:
        try:
            relative = Path(item.path).relative_to(root).as_posix()
        except ValueError:  # a file outside the repository (pytest given an absolute path elsewhere)
            return 0
        return LONG_FILES.get(relative, 0)

    items.sort(key=lambda item: -seconds(item))

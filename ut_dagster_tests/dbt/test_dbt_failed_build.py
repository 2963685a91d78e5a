"""A `dbt build` that fails part way, through Dagster on DuckDB: what was built is still reported.

The raw `tasks` table has lost a column, so dbt cannot build `stg_tasks` and skips the marts built
on it. The run fails with dbt's error, and what dbt did build is still recorded: the component
replays dbt's output once the build has ended (component.py).
"""

from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource


def test_a_failed_build_fails_the_run_and_still_records_the_models_it_built(
    research: SimpleNamespace,
    usertesting_dbt_assets: dg.AssetsDefinition,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ut_dagster.defs.research_marts.resources import dbt_resource

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        research.create_tables(connection.execute, research.rows, "duckdb")
        # A raw table dbt cannot read: its `position` column is gone.
        connection.execute("alter table usertesting.tasks drop column position")
    monkeypatch.delenv("UT_DUCKDB_PATH", raising=False)  # the resource hands dbt the path
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))  # keep dbt_project/ clean
    resources = {
        "dbt": dbt_resource("duckdb", duckdb_path=path),
        "warehouse": DuckDBResource(database=str(path)),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [usertesting_dbt_assets], resources=resources, instance=instance, raise_on_error=False
        )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "stg_tasks" in str(failure.step_failure_data.error), failure.step_failure_data.error
    built = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert {"stg_sessions", "stg_demographics"} <= built and "stg_tasks" not in built
    assert not built & {"task_metrics", "session_summary", "test_summary"}  # dbt skipped them

"""`ut-dagster demo`'s last step: build the research marts in DuckDB through Dagster and print them.

It materializes the dbt assets and the research alert checks in the same Dagster instance as the
demo's syncs, exactly as declarative automation would after a sync, so the run shows in
`dagster dev` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
from dagster import DagsterInstance, materialize

if TYPE_CHECKING:
    from ut_dagster.environment import Settings

MARTS = ("test_summary", "task_metrics", "task_option_shares", "session_summary")


def build_and_print_marts(settings: Settings, instance: DagsterInstance | None = None) -> int:
    """`dbt build` of every model plus the alerts; print the marts; 0 when the run succeeded."""
    from ut_dagster.cli.sync import dagster_instance
    from ut_dagster.defs.research_marts.alerts import build_research_alert_checks
    from ut_dagster.defs.research_marts.dbt import usertesting_dbt_assets
    from ut_dagster.environment import build_resources

    print("Building the research marts (dbt build) ...", flush=True)
    result = materialize(
        [usertesting_dbt_assets, *build_research_alert_checks()],
        resources={k: v for k, v in build_resources(settings).items() if k in ("dbt", "warehouse")},
        instance=instance or dagster_instance(settings),
        raise_on_error=False,
    )
    checks = result.get_asset_check_evaluations()
    failed = [e for e in checks if not e.passed]
    print(
        f"  run {result.run_id}: {'success' if result.success else 'failure'}; {len(checks)} checks, {len(failed)} not passed"
    )
    for evaluation in failed:
        print(
            f"  {evaluation.severity.value}: {evaluation.asset_key.to_user_string()} {evaluation.check_name}"
        )
    print()
    if result.success:
        print_marts(settings)
    return 0 if result.success else 1


def print_marts(settings: Settings, sample_rows: int = 5) -> None:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        for name in MARTS:
            count = db.execute(f"select count(*) from usertesting_marts.{name}").fetchall()[0][0]
            print(f"== usertesting_marts.{name}: {count} rows")
            sample = db.sql(f"select * from usertesting_marts.{name} limit {sample_rows}").df()
            print(sample.to_string(index=False, max_colwidth=30) if len(sample) else "(empty)")
            print()

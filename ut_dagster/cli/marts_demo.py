"""`ut-dagster demo`'s last step: build the research marts in DuckDB through Dagster and print them.

It runs the `research_marts` job (dbt build, dbt tests as checks, research alerts) in the same
Dagster instance as the demo's syncs, as automation would after a sync, so the run shows in the UI
(in the job's own views too: cli/code_location.py).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import TYPE_CHECKING

import duckdb
from dagster import AssetCheckEvaluation, AssetCheckKey, DagsterInstance, MarkdownMetadataValue

if TYPE_CHECKING:
    from ut_dagster.environment import Settings

MARTS = ("test_summary", "task_metrics", "task_option_shares", "session_summary", "clip_evidence")
# Why an alert fires on the sandbox's made-up answers (alerts are warnings: a run never fails on one).
ALERTS_EXPLAINED = {
    "nps_floor_alert": "The sandbox draws as many detractors (0-6) as promoters (9-10), so a test's NPS "
    "hovers around 0 and can fall below the floor (UT_ALERT_MIN_NPS, default 0): the alert does on "
    "sandbox data what it does on real data.",
    "task_skip_rate_alert": "The sandbox's participants skip tasks at random, and a task skipped by "
    "more than UT_ALERT_MAX_TASK_SKIP_RATE of them warns.",
    "qx_score_drop_alert": "A test's QXscore fell by more than UT_ALERT_MAX_QX_SCORE_DROP points below "
    "its previous score in usertesting_marts.qx_score_history.",
}


def build_and_print_marts(settings: Settings, instance: DagsterInstance | None = None) -> int:
    """Run the research_marts job; print one summary and the marts; 0 when the run succeeded."""
    from ut_dagster.cli.code_location import runs_in_code_location
    from ut_dagster.cli.sync import dagster_instance
    from ut_dagster.definitions import build_definitions
    from ut_dagster.defs.research_marts.alerts import build_research_alert_checks
    from ut_dagster.defs.research_marts.component import RESEARCH_MARTS_JOB_NAME

    # Built again only to name the alerts' checks; the job runs the code location's own.
    alerts = build_research_alert_checks(settings.alert_thresholds)
    defs = build_definitions(settings)
    print("Building the research marts (dbt build, dbt tests, research alerts) ...", flush=True)
    # dagster-dbt echoes every dbt log line to stdout: to a file here (and to the run's logs in the
    # UI); the terminal gets one summary.
    dbt_log = settings.data_dir / "logs" / "research_marts_dbt.log"
    dbt_log.parent.mkdir(parents=True, exist_ok=True)
    with (
        dbt_log.open("w", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        # In the job's views in the UI, as a run launched there would be.
        runs_in_code_location(instance or dagster_instance(settings)) as in_location,
    ):
        result = defs.resolve_job_def(RESEARCH_MARTS_JOB_NAME).execute_in_process(
            instance=in_location,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            raise_on_error=False,
        )
    alert_keys = {key: spec.description for check in alerts for key, spec in _specs(check)}
    evaluations = result.get_asset_check_evaluations()
    tests = [e for e in evaluations if e.asset_check_key not in alert_keys]
    fired = [e for e in evaluations if e.asset_check_key in alert_keys and not e.passed]
    models = len(result.get_asset_materialization_events())
    outcome = Counter("passed" if e.passed else f"failed ({e.severity.value.lower()})" for e in tests)
    print(
        f"  run {result.run_id} of job {RESEARCH_MARTS_JOB_NAME}: {'success' if result.success else 'FAILURE'}; "
        f"{models} dbt models built; {len(tests)} dbt tests: "
        + ", ".join(f"{n} {state}" for state, n in sorted(outcome.items()))
    )
    for evaluation in tests:
        if not evaluation.passed:
            print(f"  dbt test {evaluation.asset_check_key.name} on {evaluation.asset_key.to_user_string()}")
    print(f"  dbt's log: {dbt_log}")
    print(f"  research alerts (warnings, never failures): {len(fired)} of {len(alert_keys)} fired")
    for evaluation in fired:
        _print_alert(evaluation, alert_keys[evaluation.asset_check_key])
    print()
    if result.success:
        print_marts(settings)
    return 0 if result.success else 1


def _specs(check: object) -> list[tuple[AssetCheckKey, object]]:
    return [(spec.key, spec) for spec in check.check_specs]  # type: ignore[attr-defined]


def _print_alert(evaluation: AssetCheckEvaluation, description: str | None) -> None:
    name = evaluation.asset_check_key.name
    print(f"  - {name} on {evaluation.asset_key.to_user_string()}: {description}")
    for value in evaluation.metadata.values():
        if isinstance(value, MarkdownMetadataValue):
            print("    " + value.value.strip().replace("\n", "\n    "))
    if name in ALERTS_EXPLAINED:
        print(f"    {ALERTS_EXPLAINED[name]}")


def print_marts(settings: Settings, sample_rows: int = 5) -> None:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        for name in MARTS:
            count = db.execute(f"select count(*) from usertesting_marts.{name}").fetchall()[0][0]
            print(f"== usertesting_marts.{name}: {count} rows")
            sample = db.sql(f"select * from usertesting_marts.{name} limit {sample_rows}").df()
            print(sample.to_string(index=False, max_colwidth=30) if len(sample) else "(empty)")
            print()

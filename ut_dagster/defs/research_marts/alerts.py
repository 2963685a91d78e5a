"""Research-signal alerts: warning-severity checks on the marts that a researcher wants to hear about.

A task many participants skip (a confusing or broken task), a Net Promoter Score below a floor, a
QXscore that dropped between builds of the marts. Tests are named "Title (uuid)". Earlier QXscores
live in the warehouse, in the dbt model qx_score_history (one row per change of a test's score), so
analysts can query them too and the alert reads no run history. Checks never block (WARN) and read
the marts through any resource with a DB-API `get_connection()`, so the same code serves DuckDB and
Snowflake. Thresholds: `UT_ALERT_*`, parsed in environment.py.
"""

# No `from __future__ import annotations`: Dagster inspects the check functions' context annotation.
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from ut_dagster.environment import AlertThresholds

MARTS_SCHEMA = "usertesting_marts"
TASK_METRICS = AssetKey([MARTS_SCHEMA, "task_metrics"])
TEST_SUMMARY = AssetKey([MARTS_SCHEMA, "test_summary"])
QX_SCORE_HISTORY = AssetKey([MARTS_SCHEMA, "qx_score_history"])
# Each test's QXscore now and its latest score from an earlier build. The history's rows from this
# very build (observed_at = built_at) record the current score, so they are not "previous"; as the
# history holds only changes, the latest earlier row is the previous distinct score, however many
# builds ago it came or whether the test had no score in between.
QX_SCORE_COMPARISON_SQL = f"""
select t.test_id, t.title, t.qx_score as current_qx_score, h.qx_score as previous_qx_score
from {MARTS_SCHEMA}.test_summary as t
left join {MARTS_SCHEMA}.qx_score_history as h
    on h.test_id = t.test_id and h.observed_at < t.built_at
where t.qx_score is not null
qualify row_number() over (partition by t.test_id order by h.observed_at desc nulls last) = 1
"""
_SHOWN_ROWS = 25


def fetch_rows(warehouse: Any, sql: str) -> list[dict[str, Any]]:
    """Rows of `sql` as dicts with lower-case keys (Snowflake reports column names upper-case)."""
    with warehouse.get_connection() as connection:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
            names = [column[0].lower() for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()


def skipped_tasks(rows: Sequence[Mapping[str, Any]], thresholds: AlertThresholds) -> list[dict[str, Any]]:
    """task_metrics rows whose skip rate is above the threshold, worst first."""
    found = [
        dict(row)
        for row in rows
        if row["skip_rate"] is not None
        and (row["sessions"] or 0) >= thresholds.min_sample_size
        and float(row["skip_rate"]) > thresholds.max_task_skip_rate
    ]
    return sorted(found, key=lambda row: -float(row["skip_rate"]))


def low_nps_tests(rows: Sequence[Mapping[str, Any]], thresholds: AlertThresholds) -> list[dict[str, Any]]:
    """test_summary rows whose NPS is below the floor, lowest first."""
    found = [
        dict(row)
        for row in rows
        if row["nps"] is not None
        and (row["nps_responses"] or 0) >= thresholds.min_sample_size
        and float(row["nps"]) < thresholds.min_nps
    ]
    return sorted(found, key=lambda row: float(row["nps"]))


def qx_score_drops(
    previous: Mapping[str, float], current: Mapping[str, float], max_drop: float
) -> list[dict[str, Any]]:
    """Tests whose QXscore fell by more than `max_drop` points since `previous`, largest drop first."""
    drops = [
        {
            "test_id": test_id,
            "previous": previous[test_id],
            "current": score,
            "drop": previous[test_id] - score,
        }
        for test_id, score in current.items()
        if test_id in previous and previous[test_id] - score > max_drop
    ]
    return sorted(drops, key=lambda row: -row["drop"])


def qx_score_comparison(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Previous and current QXscore by test_id from QX_SCORE_COMPARISON_SQL rows (no previous: absent)."""
    current = {str(row["test_id"]): float(row["current_qx_score"]) for row in rows}
    previous = {
        str(row["test_id"]): float(row["previous_qx_score"])
        for row in rows
        if row["previous_qx_score"] is not None
    }
    return previous, current


def label_for_test(test_id: Any, title: Any) -> str:
    """How alerts name a test: its title with the ID (what the UI and the CLI use), or the ID alone."""
    return f"{title} ({test_id})" if title else str(test_id)


def with_test_labels(rows: Sequence[Mapping[str, Any]], titles: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows with a `test` column naming their test (title from `titles` by test_id, else the row's)."""
    return [
        {**row, "test": label_for_test(row["test_id"], titles.get(str(row["test_id"])) or row.get("title"))}
        for row in rows
    ]


def fetch_titles(warehouse: Any) -> dict[str, Any]:
    """Title by test_id from test_summary; {} when it cannot be read (not built yet).

    Titles only decorate an alert: the alert itself must not fail for want of them.
    """
    try:
        rows = fetch_rows(warehouse, f"select test_id, title from {MARTS_SCHEMA}.test_summary")
    except Exception:  # the DB-API error classes differ by warehouse (DuckDB, Snowflake)
        return {}
    return {str(row["test_id"]): row["title"] for row in rows if row["title"]}


def _markdown(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> MetadataValue:
    if not rows:
        return MetadataValue.md("(none)")
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows[:_SHOWN_ROWS]:
        cells = (_cell(row.get(c)) for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > _SHOWN_ROWS:
        lines.append(f"\n… and {len(rows) - _SHOWN_ROWS} more")
    return MetadataValue.md("\n".join(lines))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")[:80]


def build_research_alert_checks(
    thresholds: AlertThresholds, warehouse_resource_key: str = "warehouse"
) -> list[AssetChecksDefinition]:
    """The three alert checks, for `Definitions(asset_checks=...)` beside the dbt assets."""
    resources = {warehouse_resource_key}

    @asset_check(
        asset=TASK_METRICS,
        name="task_skip_rate_alert",
        description=f"Warns when more than {thresholds.max_task_skip_rate:.0%} of a task's participants skip it.",
        required_resource_keys=resources,
        metadata={
            "max_task_skip_rate": thresholds.max_task_skip_rate,
            "min_sample_size": thresholds.min_sample_size,
        },
    )
    def task_skip_rate_alert(context: AssetCheckExecutionContext) -> AssetCheckResult:
        warehouse = getattr(context.resources, warehouse_resource_key)
        rows = fetch_rows(
            warehouse,
            f"select test_id, task_uuid, task_position, task_text, sessions, skip_rate from {MARTS_SCHEMA}.task_metrics",
        )
        found = skipped_tasks(rows, thresholds)
        if found:
            found = with_test_labels(found, fetch_titles(warehouse))
        return AssetCheckResult(
            passed=not found,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "tasks_over_threshold": len(found),
                "tasks": _markdown(found, ["test", "task_position", "task_text", "sessions", "skip_rate"]),
            },
        )

    @asset_check(
        asset=TEST_SUMMARY,
        name="nps_floor_alert",
        description=f"Warns when a test's Net Promoter Score is below {thresholds.min_nps:g}.",
        required_resource_keys=resources,
        metadata={"min_nps": thresholds.min_nps, "min_sample_size": thresholds.min_sample_size},
    )
    def nps_floor_alert(context: AssetCheckExecutionContext) -> AssetCheckResult:
        warehouse = getattr(context.resources, warehouse_resource_key)
        rows = fetch_rows(
            warehouse, f"select test_id, title, nps, nps_responses from {MARTS_SCHEMA}.test_summary"
        )
        found = with_test_labels(low_nps_tests(rows, thresholds), {})
        return AssetCheckResult(
            passed=not found,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "tests_below_floor": len(found),
                "tests": _markdown(found, ["test", "nps", "nps_responses"]),
            },
        )

    @asset_check(
        asset=TEST_SUMMARY,
        name="qx_score_drop_alert",
        description=f"Warns when a test's QXscore dropped by more than {thresholds.max_qx_score_drop:g} points "
        "since its previous score (usertesting_marts.qx_score_history).",
        required_resource_keys=resources,
        additional_deps=[QX_SCORE_HISTORY],
        metadata={"max_qx_score_drop": thresholds.max_qx_score_drop},
    )
    def qx_score_drop_alert(context: AssetCheckExecutionContext) -> AssetCheckResult:
        warehouse = getattr(context.resources, warehouse_resource_key)
        rows = fetch_rows(warehouse, QX_SCORE_COMPARISON_SQL)
        previous, current = qx_score_comparison(rows)
        titles = {str(row["test_id"]): row["title"] for row in rows}
        found = with_test_labels(qx_score_drops(previous, current, thresholds.max_qx_score_drop), titles)
        return AssetCheckResult(
            passed=not found,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "tests_dropped": len(found),
                "tests": _markdown(found, ["test", "previous", "current", "drop"]),
                "tests_compared": len(previous),
            },
        )

    return [task_skip_rate_alert, nps_floor_alert, qx_score_drop_alert]

"""Freshness per test: every registered test must have been synced recently.

Dagster's built-in freshness checks look at an asset's latest materialization, which for a
partitioned asset says nothing about the other tests; this one looks at each test's partition.
"""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetRecordsFilter,
    AssetsDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    asset_check,
    define_asset_job,
)

from ut_dagster.defs.usertesting.assets import raw_sessions
from ut_dagster.defs.usertesting.partitions import test_partitions


def build_freshness_check(max_age_hours: float) -> AssetsDefinition:
    @asset_check(
        asset=raw_sessions,
        name="every_test_synced_recently",
        description=f"Every registered test's listing was synced within the last {max_age_hours:g} hours.",
    )
    def every_test_synced_recently(context: AssetCheckExecutionContext) -> AssetCheckResult:
        now = datetime.now(UTC)
        stale: dict[str, str] = {}
        tests = sorted(context.instance.get_dynamic_partitions(test_partitions.name))
        for test_id in tests:
            records = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=raw_sessions.key, asset_partitions=[test_id]), limit=1
            ).records
            if not records:
                stale[test_id] = "never synced"
                continue
            age = now - datetime.fromtimestamp(records[0].timestamp, UTC)
            if age > timedelta(hours=max_age_hours):
                stale[test_id] = f"last synced {age.total_seconds() / 3600:.1f} h ago"
        return AssetCheckResult(
            passed=not stale,
            severity=AssetCheckSeverity.WARN,
            metadata={"tests": len(tests), "stale_tests": stale},
        )

    return every_test_synced_recently


def build_freshness_schedule(check: AssetsDefinition) -> ScheduleDefinition:
    # Costs no API budget: it reads the Dagster instance only.
    job = define_asset_job("usertesting_freshness", selection=AssetSelection.checks(check))
    return ScheduleDefinition(
        name="usertesting_freshness_hourly",
        job=job,
        cron_schedule="17 * * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Checks every hour that each registered test was synced recently.",
    )

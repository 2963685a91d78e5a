"""Schedules: the nightly sync of every registered test, the hourly freshness check, the daily test list."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME, freshness_job, tests_refresh_job
from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.runs import failure_streak_of
from dagster_usertesting.defs.titles import known_titles, title_tags
from dagster_usertesting.lib.object_store import ObjectStoreResource


def build_sync_schedule(cron: str = "0 2 * * *") -> ScheduleDefinition:
    # build_schedule_from_partitioned_job refuses dynamic partitions, so the schedule fans out itself.
    @schedule(
        name="usertesting_scheduled_sync",
        job_name=SYNC_JOB_NAME,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description="Incremental sync of every registered UserTesting test, but those whose runs failed "
        "UT_TEST_MAX_FAILED_RUNS times in a row (the no_test_keeps_failing check lists them); when: "
        "UT_SYNC_CRON (UTC). Off by default: turn on this schedule or the usertesting_new_sessions "
        "sensor (one is enough), or registered tests are synced only by hand (`ut-dagster sync`, "
        "Materialize).",
    )
    def _sync(
        context: ScheduleEvaluationContext,
        object_store: ObjectStoreResource,
        sync_settings: SyncPolicyResource,
    ):
        tick = context.scheduled_execution_time.isoformat()
        titles = known_titles(object_store)
        for test_id in sorted(context.instance.get_dynamic_partitions(test_partitions.name)):
            streak = failure_streak_of(context.instance, test_id, sync_settings.max_failed_runs)
            if streak.failures >= sync_settings.max_failed_runs:
                continue  # stopped until a run of it succeeds
            yield RunRequest(
                partition_key=test_id, run_key=f"{test_id}:{tick}", tags=title_tags(titles, test_id)
            )

    return _sync


freshness_schedule = ScheduleDefinition(
    name="usertesting_freshness_hourly",
    job=freshness_job,
    cron_schedule="17 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Checks every hour that each registered test was synced recently (no API request).",
)

# Before the default nightly sync, so that sync's runs are tagged with current titles.
tests_daily_schedule = ScheduleDefinition(
    name="usertesting_tests_daily",
    job=tests_refresh_job,
    cron_schedule="30 1 * * *",
    execution_timezone="UTC",
    # A few requests a day, and every title shown in the UI and the marts depends on it.
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily refresh of the test list (titles) from the legacy v1 workspaces API.",
)

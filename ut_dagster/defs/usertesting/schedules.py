"""The scheduled sync: every registered test, once per cron tick (nightly by default)."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from ut_dagster.defs.usertesting.jobs import usertesting_sync_job
from ut_dagster.defs.usertesting.partitions import test_partitions


def build_sync_schedule(cron: str = "0 2 * * *") -> ScheduleDefinition:
    # build_schedule_from_partitioned_job refuses dynamic partitions, so the schedule fans out itself.
    @schedule(
        name="usertesting_scheduled_sync",
        job=usertesting_sync_job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description="Incremental sync of every registered UserTesting test.",
    )
    def _sync(context: ScheduleEvaluationContext):
        tick = context.scheduled_execution_time.isoformat()
        for test_id in sorted(context.instance.get_dynamic_partitions(test_partitions.name)):
            yield RunRequest(partition_key=test_id, run_key=f"{test_id}:{tick}")

    return _sync

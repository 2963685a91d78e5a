"""The scheduled sync: every registered test, once per cron tick (nightly by default)."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from ut_dagster.defs.usertesting.jobs import usertesting_sync_job
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.defs.usertesting.titles import known_titles, title_tags
from ut_dagster.lib.object_store import ObjectStoreResource


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
    def _sync(context: ScheduleEvaluationContext, object_store: ObjectStoreResource):
        tick = context.scheduled_execution_time.isoformat()
        titles = known_titles(object_store)
        for test_id in sorted(context.instance.get_dynamic_partitions(test_partitions.name)):
            yield RunRequest(
                partition_key=test_id, run_key=f"{test_id}:{tick}", tags=title_tags(titles, test_id)
            )

    return _sync

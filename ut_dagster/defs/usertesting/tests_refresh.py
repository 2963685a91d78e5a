"""The daily refresh of `usertesting/tests` (titles, kinds, workspaces of every test).

Its own job: the table is not partitioned by test, so it cannot be a step of the per-test sync job,
and `ut-dagster sync` never waits for it. Runs start a little before the default nightly sync, so
that sync's runs are tagged with current titles.
"""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from ut_dagster.defs.usertesting.assets import TESTS_ASSETS

TESTS_REFRESH_JOB_NAME = "usertesting_tests_refresh"

tests_refresh_job = define_asset_job(
    TESTS_REFRESH_JOB_NAME,
    selection=AssetSelection.assets(*TESTS_ASSETS),
    description="Refresh usertesting/tests: every test the credential sees, with title and kind "
    "(a handful of legacy v1 requests).",
)


def build_tests_refresh_schedule(cron: str = "30 1 * * *") -> ScheduleDefinition:
    return ScheduleDefinition(
        name="usertesting_tests_daily",
        job=tests_refresh_job,
        cron_schedule=cron,
        execution_timezone="UTC",
        # A few requests a day, and every title shown in the UI and the marts depends on it.
        default_status=DefaultScheduleStatus.RUNNING,
        description="Daily refresh of the test list (titles) from the legacy v1 workspaces API.",
    )

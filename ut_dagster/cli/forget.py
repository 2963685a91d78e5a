"""`ut-dagster forget TEST_ID [--delete-data]`: stop syncing a test.

Unregistering removes the test's partition, so schedules and sensors no longer ask for it; its
data stays (rows, landing area, videos) unless `--delete-data` is given, which deletes them and the
test's rows of the marts' history tables (TEST_HISTORY_TABLES), which no dbt build removes. With
`--delete-data`, the test's runs in flight are cancelled and waited for first; when one cannot be
stopped (another `ut-dagster sync` is running the test), nothing is deleted and the command exits 2,
naming the run.
"""

from __future__ import annotations

import sys

from dagster import DagsterInstance, DagsterRun

from dagster_usertesting.defs.forget import WAIT_SECONDS, forget_test, run_by_cli
from dagster_usertesting.defs.run_tags import CLI_HOST_TAG, CLI_PID_TAG, run_tag
from dagster_usertesting.lib.ids import TestId
from ut_dagster.cli.instance import dagster_instance
from ut_dagster.defs.research_marts.kept_history import TEST_HISTORY_TABLES
from ut_dagster.environment import Settings

RUNS_IN_FLIGHT = 2  # exit code: the test is unregistered, its data kept while its runs go on


def run_forget(
    test_id: TestId,
    *,
    delete_data: bool = False,
    settings: Settings | None = None,
    instance: DagsterInstance | None = None,
    wait_seconds: float = WAIT_SECONDS,
) -> int:
    settings = settings or Settings.from_env()
    instance = instance or dagster_instance(settings)
    test_id = TestId(test_id)
    forgotten = forget_test(
        instance,
        test_id,
        delete_data=delete_data,
        settings=settings,
        wait_seconds=wait_seconds,
        derived_tables=TEST_HISTORY_TABLES,
    )
    if forgotten.cancelled:
        count = len(forgotten.cancelled)
        print(
            f"Cancelled {count} run{'s' if count > 1 else ''} of test {test_id}: {', '.join(forgotten.cancelled)}."
        )
    if forgotten.still_running:
        lines = "\n".join(
            f"  run {r.run_id} ({_why_running(r, wait_seconds)})" for r in forgotten.still_running
        )
        print(
            f"Test {test_id} is no longer synced, but its data was not deleted: "
            f"{len(forgotten.still_running)} of its runs are still in flight and could land data "
            f"after the deletion:\n{lines}\n"
            f"Once they ended, run `ut-dagster forget {test_id} --delete-data` again.",
            file=sys.stderr,
        )
        return RUNS_IN_FLIGHT
    if delete_data:
        print(
            f"Deleted {forgotten.rows_deleted} rows and {forgotten.objects_deleted} stored objects "
            f"of test {test_id}."
        )
    if not forgotten.was_registered and not delete_data:
        print(f"Test {test_id} is not registered: nothing to forget.", file=sys.stderr)
        return 1
    print(
        f"Test {test_id} is no longer synced."
        + ("" if delete_data else " Its data is kept; `--delete-data` removes it.")
    )
    return 0


def _why_running(run: DagsterRun, waited: float) -> str:
    status = run.status.value.lower()
    if run_by_cli(run):
        return (
            f"{status} by `ut-dagster sync`, process {run_tag(run.tags, CLI_PID_TAG)} on {run_tag(run.tags, CLI_HOST_TAG)}: "
            "let it end or stop it"
        )
    return f"{status}: not stopped within {waited:.0f} s; the UI's Runs page can terminate it"

"""`ut-dagster forget TEST_ID [--delete-data]`: stop syncing a test.

Unregistering removes the test's partition, so schedules and sensors no longer ask for it; its
data stays (rows, landing area, videos) unless `--delete-data` is given.
"""

from __future__ import annotations

import sys

from dagster import DagsterInstance

from ut_dagster.cli.instance import dagster_instance
from ut_dagster.defs.usertesting.forget import forget_test
from ut_dagster.environment import Settings
from ut_dagster.lib.ids import TestId


def run_forget(
    test_id: TestId,
    *,
    delete_data: bool = False,
    settings: Settings | None = None,
    instance: DagsterInstance | None = None,
) -> int:
    settings = settings or Settings.from_env()
    instance = instance or dagster_instance(settings)
    forgotten = forget_test(instance, test_id, delete_data=delete_data, settings=settings)
    was_registered = forgotten.was_registered
    if delete_data:
        print(
            f"Deleted {forgotten.rows_deleted} rows and {forgotten.objects_deleted} stored objects "
            f"of test {test_id}."
        )
    if not was_registered and not delete_data:
        print(f"Test {test_id} is not registered: nothing to forget.", file=sys.stderr)
        return 1
    print(
        f"Test {test_id} is no longer synced."
        + ("" if delete_data else " Its data is kept; `--delete-data` removes it.")
    )
    return 0

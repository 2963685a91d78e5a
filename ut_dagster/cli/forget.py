"""`ut-dagster forget TEST_ID [--delete-data]`: stop syncing a test.

Unregistering removes the test's partition, so schedules and sensors no longer ask for it; its
data stays (rows, landing area, videos) unless `--delete-data` is given. Data is deleted first and
the partition removed last, so a deletion that fails part-way can simply be run again.
"""

from __future__ import annotations

import sys

from dagster import DagsterInstance, Definitions

from ut_dagster.cli.instance import dagster_instance
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.environment import Settings


def run_forget(
    test_id: str,
    *,
    delete_data: bool = False,
    settings: Settings | None = None,
    instance: DagsterInstance | None = None,
    defs: Definitions | None = None,
) -> int:
    settings = settings or Settings.from_env()
    instance = instance or dagster_instance(settings)
    registered = instance.has_dynamic_partition(test_partitions.name, test_id)
    if not registered and not delete_data:
        print(f"Test {test_id} is not registered: nothing to forget.", file=sys.stderr)
        return 1
    if delete_data:
        try:
            from ut_dagster.defs.usertesting.forget import forget_test
        except ImportError:
            print(
                "error: --delete-data is not available in this version; nothing was changed.", file=sys.stderr
            )
            return 2
        if defs is None:
            from ut_dagster.definitions import defs
        forget_test(instance, test_id, delete_data=True, resources=defs.resources)
        print(f"Deleted the data of test {test_id}.")
    if instance.has_dynamic_partition(test_partitions.name, test_id):
        instance.delete_dynamic_partition(test_partitions.name, test_id)
    print(
        f"Test {test_id} is no longer synced."
        + ("" if delete_data else " Its data is kept; `--delete-data` removes it.")
    )
    return 0

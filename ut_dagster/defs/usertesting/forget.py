"""Unregistering a test: its partition goes, and on request everything synced for it."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import DagsterInstance

from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.environment import Settings
from ut_dagster.lib.ids import TestId
from ut_dagster.lib.landing import Landing
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.warehouse import open_warehouse


@dataclass(frozen=True)
class Forgotten:
    was_registered: bool
    rows_deleted: int = 0
    objects_deleted: int = 0


def forget_test(
    instance: DagsterInstance, test_id: TestId, delete_data: bool, settings: Settings
) -> Forgotten:
    """Stop syncing a test; with `delete_data`, also remove its rows, landed responses and videos.

    Rows go first: a failure then leaves the landing area, from which a re-registered test is
    rebuilt without spending API requests.
    """
    registered = instance.has_dynamic_partition(test_partitions.name, test_id)
    if registered:
        instance.delete_dynamic_partition(test_partitions.name, test_id)
    if not delete_data:
        return Forgotten(registered)
    # A plain str: Snowflake's connector refuses to bind a parameter of type TestId.
    rows = sum(open_warehouse(settings).delete_test(str(test_id)).values())
    store = ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url).store()
    return Forgotten(registered, rows, Landing(store).delete_test(test_id))

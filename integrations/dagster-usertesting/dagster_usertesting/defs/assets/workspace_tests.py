"""`usertesting/tests`: every test the credential can see, with its title, from the legacy v1 API.

One table for the credential, not per test partition: it names the tests the marts, alerts and run
tags show. Its materializations also show the registered tests (the ones synced) as a table: title,
ID, kind, sessions, last sync, lag and status (registered_tests.py). A handful of requests (the workspace list, then ~50 tests per page of each workspace),
landed whole under raw/_workspaces/ before they are normalized, then the table is replaced.
"""

from datetime import UTC, datetime
from typing import Any

from dagster import AssetExecutionContext, Output, ResourceParam, asset

from dagster_usertesting.defs.assets.common import GROUP, KEY_PREFIX
from dagster_usertesting.defs.assets.factory import sync_step
from dagster_usertesting.defs.freshness import FreshnessLimits
from dagster_usertesting.defs.registered_tests import registered_tests_table
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.lib.landing import utc_now
from dagster_usertesting.lib.normalize import to_frame
from dagster_usertesting.lib.normalize.workspace_tests import workspace_test_rows
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.schema import SCHEMA, TESTS, column_schema
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.warehouse import TableWrite
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager
from dagster_usertesting.lib.workspace_tests import land_workspace_tests


@sync_step(
    asset,
    name=TESTS.name,
    key_prefix=KEY_PREFIX,
    group_name=GROUP,
    metadata={
        "dagster/table_name": f"{SCHEMA}.{TESTS.name}",
        "dagster/column_schema": column_schema(TESTS),
    },
    kinds={"python", "usertesting"},
    description=TESTS.description,
)
def workspace_tests(
    context: AssetExecutionContext,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncPolicyResource,
    io_manager: ResourceParam[WarehouseIOManager],
):
    client = usertesting.get_client()
    before = client.stats.snapshot()
    received_at = utc_now()
    listed = list(client.list_workspace_tests())
    key = land_workspace_tests(object_store.store(), listed, received_at)
    rows = workspace_test_rows(listed, received_at)
    skipped = len(listed) - len(rows)
    if skipped:
        context.log.warning(f"{skipped} listed tests had no valid UUID and were left out.")
    limits = FreshnessLimits(sync_settings.freshness_hours, sync_settings.freshness_lag_minutes)
    metadata: dict[str, Any] = {
        # The tests syncs are registered for, by title, and how each is doing: what a user opens
        # the UI to see (partition keys are UUIDs).
        "registered_tests": registered_tests_table(
            context.instance,
            io_manager.client(),
            {str(r["test_id"]).lower(): r for r in rows},
            limits,
            sync_settings.max_failed_runs,
            datetime.now(UTC),
        ),
        "tests": len(rows),
        "syncable_tests": sum(1 for r in rows if r["syncable"]),
        "studies_without_uuid": skipped,
        "landed_key": key,  # under UT_OBJECT_STORE: no absolute local path in the UI
        **client.stats.since(before).as_metadata(),
    }
    yield Output(TableWrite(TESTS, to_frame(TESTS, rows), None), metadata=metadata)

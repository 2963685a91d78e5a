"""A sensor that starts a test's sync when UserTesting lists sessions we have not landed yet."""

import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from ut_dagster.defs.usertesting.jobs import usertesting_sync_job
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.lib.landing import Landing
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.sync_policy import listing_stop
from ut_dagster.lib.usertesting_api.resource import UserTestingResource

# Each check costs at least one request of the shared 10-per-minute budget: look at a few tests per
# tick, round robin, rather than all of them every time.
TESTS_PER_TICK = 5


@sensor(
    name="usertesting_new_sessions",
    job=usertesting_sync_job,
    minimum_interval_seconds=15 * 60,
    default_status=DefaultSensorStatus.STOPPED,
    description="Starts a test's sync when its session listing shows sessions not landed yet.",
)
def new_sessions_sensor(
    context: SensorEvaluationContext, usertesting: UserTestingResource, object_store: ObjectStoreResource
):
    tests = sorted(context.instance.get_dynamic_partitions(test_partitions.name))
    if not tests:
        yield SkipReason("No tests registered yet: run `ut-dagster sync TEST_ID` or add a partition.")
        return
    start = int(json.loads(context.cursor or "{}").get("next", 0)) % len(tests)
    batch = (tests[start:] + tests[:start])[:TESTS_PER_TICK]
    context.update_cursor(json.dumps({"next": start + len(batch)}))

    landing = Landing(object_store.store())
    client = usertesting.get_client()
    for test_id in batch:
        known = set(landing.read_listing(test_id).sessions)
        if not known:
            yield RunRequest(partition_key=test_id, run_key=f"{test_id}:first-sync")
            continue
        listing = client.list_sessions(test_id, stop_when=listing_stop(known, reconcile=False))
        new = sorted(s["sessionId"] for s in listing if s["sessionId"] not in known)
        if new:
            context.log.info(f"Test {test_id}: {len(new)} new sessions.")
            yield RunRequest(partition_key=test_id, run_key=f"{test_id}:{new[0]}:{len(known) + len(new)}")

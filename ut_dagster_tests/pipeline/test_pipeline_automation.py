"""The schedule and the code location, on a real Dagster instance (sensors: ut_dagster_tests/sensors/)."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetKey, build_schedule_context, instance_for_test

from dagster_usertesting.defs.partitions import add_tests
from dagster_usertesting.defs.schedules import build_sync_schedule
from dagster_usertesting.testing import SURVEY, StudySpec

REPO = Path(__file__).resolve().parents[2]


def test_schedule_requests_one_run_per_registered_test():
    test_ids = ["3fa85f64-5717-4562-b3fc-2c963f66afa6", "0b6b1c7e-2f55-4a43-9d4f-5d2b8f6c1a10"]
    schedule = build_sync_schedule("0 3 * * *")
    tick = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    with instance_for_test() as instance:
        add_tests(instance, test_ids)
        from dagster_usertesting.defs.resources import SyncPolicyResource
        from dagster_usertesting.lib.object_store import ObjectStoreResource

        # Where the landed test list would be (none here: no titles, no tags).
        store = {
            "object_store": ObjectStoreResource(url=str(Path(instance.root_directory) / "store")),
            "sync_settings": SyncPolicyResource(),
        }
        # Closed: an unclosed context's instance, collected during a later test, resets Dagster's current
        # definitions state to a dead instance's ("undefined DagsterInstance weakref").
        with build_schedule_context(
            instance=instance, scheduled_execution_time=tick, resources=store
        ) as context:
            requests = list(schedule(context))
    assert sorted(r.partition_key for r in requests) == sorted(test_ids)
    assert len({r.run_key for r in requests}) == 2


def test_code_location_loads_and_validates(tmp_path):
    env = {**os.environ, "UT_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_freshness_check_names_each_test_not_synced_recently(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    synced, never = pipeline.sandbox.test_ids
    add_tests(pipeline.instance, [synced, never])
    assert pipeline.sync([synced]) == 0
    job = pipeline.defs.resolve_job_def("usertesting_freshness")

    def evaluate() -> tuple[bool, dict]:
        result = job.execute_in_process(instance=pipeline.instance)
        [evaluation] = [
            e for e in result.get_asset_check_evaluations() if e.check_name == "every_test_synced_recently"
        ]
        return evaluation.passed, evaluation.metadata["stale_tests"].value

    assert evaluate() == (False, {never: "never synced"})
    assert pipeline.sync([never]) == 0
    assert evaluate() == (True, {})


def test_the_hourly_check_shows_the_registered_tests_as_they_are_now(make_pipeline):
    # The test list (and its table) is refreshed daily, before any test is synced on a new
    # deployment: the hourly freshness job shows each registered test's state of this hour.
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)))
    synced, never = pipeline.sandbox.test_ids
    assert (
        pipeline.defs.resolve_job_def("usertesting_tests_refresh")
        .execute_in_process(instance=pipeline.instance)
        .success
    )
    add_tests(pipeline.instance, [synced, never])
    assert pipeline.sync([synced]) == 0

    result = pipeline.defs.resolve_job_def("usertesting_freshness").execute_in_process(
        instance=pipeline.instance
    )

    [observation] = [
        e.event_specific_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert observation.asset_key == AssetKey(["usertesting", "tests"])
    rows = {r.data["test_id"]: r.data for r in observation.metadata["registered_tests"].value.records}
    assert set(rows) == {synced, never}
    assert rows[synced]["sessions"] == 2 and rows[synced]["title"] != "(not in the test list)"
    assert rows[never]["sessions"] == 0 and rows[never]["status"].startswith("never synced")

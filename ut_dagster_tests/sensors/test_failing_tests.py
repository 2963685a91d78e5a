"""A test that keeps failing, over real runs in a real instance: the asset check and the nightly schedule."""

from datetime import UTC, datetime

import dagster as dg

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME
from dagster_usertesting.defs.schedules import build_sync_schedule
from dagster_usertesting.settings import SensorSettings
from dagster_usertesting.testing import SURVEY, StudySpec


def test_the_check_fails_naming_each_stopped_test_with_its_last_error_until_a_sync_succeeds(make_rig):
    rig = make_rig(
        studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)),
        sensors=SensorSettings(max_failed_runs=2),
    )
    stopped, retrying, healthy = rig.sandbox.test_ids
    assert rig.sync(stopped, retrying, healthy) == 0
    rig.sandbox.revoke_test(stopped, status=401)
    rig.sandbox.revoke_test(retrying, status=401)
    assert rig.sync(stopped) == 1 and rig.sync(stopped) == 1 and rig.sync(retrying) == 1
    job = rig.defs.resolve_job_def("usertesting_freshness")

    def evaluate():
        result = job.execute_in_process(instance=rig.instance)
        return next(
            e for e in result.get_asset_check_evaluations() if e.check_name == "no_test_keeps_failing"
        )

    evaluation = evaluate()
    assert not evaluation.passed and evaluation.severity.value == "ERROR"
    failing = evaluation.metadata["stopped_tests"].value
    assert list(failing) == [stopped]
    assert failing[stopped].startswith("2 failed runs in a row; last error: usertesting__raw_sessions: ")
    assert "UserTestingAuthError" in failing[stopped]
    assert list(evaluation.metadata["retrying_tests"].value) == [retrying]
    assert "ut-dagster sync TEST_ID" in evaluation.description

    rig.sandbox.restore_test(stopped)
    assert rig.sync(stopped) == 0  # a successful run resumes it
    evaluation = evaluate()
    assert evaluation.passed and evaluation.metadata["stopped_tests"].value == {}


def test_the_nightly_schedule_does_not_sync_a_stopped_test(make_rig):
    rig = make_rig(
        studies=(StudySpec(SURVEY, 2), StudySpec(SURVEY, 2)), sensors=SensorSettings(max_failed_runs=2)
    )
    stopped, healthy = rig.sandbox.test_ids
    rig.register(stopped, healthy)
    job = rig.defs.resolve_job_def(SYNC_JOB_NAME)
    for _ in range(2):
        rig.instance.report_run_failed(
            rig.instance.create_run_for_job(job, tags={"dagster/partition": stopped})
        )
    with dg.build_schedule_context(
        instance=rig.instance,
        scheduled_execution_time=datetime(2025, 1, 2, 2, tzinfo=UTC),
        resources={k: rig.defs.resources[k] for k in ("object_store", "sync_settings")},
    ) as context:
        assert [r.partition_key for r in build_sync_schedule()(context)] == [healthy]

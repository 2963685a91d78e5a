"""The sync jobs: current Dagster API, one process per run, and a bad partition key failing clearly."""

import subprocess
import sys

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME
from dagster_usertesting.defs.partitions import test_partitions
from ut_dagster.cli.failures import failure_of


def test_job_definitions_use_no_deprecated_dagster_api():
    code = "import dagster_usertesting.defs.jobs"
    result = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "integrations/dagster-usertesting/dagster_usertesting/defs/jobs.py" not in result.stderr


def test_sync_jobs_run_their_steps_in_the_run_process_and_are_partitioned_by_test(make_cli):
    cli = make_cli()
    for name in (SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME):
        job = cli.defs.resolve_job_def(name)
        assert job.executor_def.name == "in_process"
        assert job.partitions_def == test_partitions


def test_a_partition_key_that_is_not_a_test_id_fails_its_run_at_once_with_a_clear_message(make_cli):
    cli = make_cli()
    # The UI's "add partition" accepts any text.
    cli.instance.add_dynamic_partitions(test_partitions.name, ["my test"])
    result = cli.defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
        instance=cli.instance, partition_key="my test", raise_on_error=False
    )
    assert not result.success
    failure = failure_of("my test", result)
    assert failure.message.startswith("'my test' is not a valid UserTesting test ID: expected a UUID")
    assert "UUID" in failure.hint
    assert cli.sandbox.requests == []

"""A test's runs as the Dagster instance records them: the one place that says which runs are a test's.

A run belongs to a test when it carries the test's partition tag, whatever its job: the sync jobs
(CLI, schedule, sensor) and a materialization started from the UI alike. The sensor, `ut-dagster
status`, `ut-dagster forget` and the asset checks all read runs through here, so they agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

PARTITION_TAG = "dagster/partition"

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def runs_in_flight(instance: DagsterInstance, test_id: str) -> Sequence[DagsterRun]:
    """The test's runs that are queued, starting or running."""
    return instance.get_runs(RunsFilter(tags={PARTITION_TAG: test_id}, statuses=IN_FLIGHT))

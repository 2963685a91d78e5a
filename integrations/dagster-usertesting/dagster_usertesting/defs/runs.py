"""A test's runs as the Dagster instance records them: the one place that says which runs are a test's.

A run belongs to a test when it carries the test's partition tag, whatever its job: the sync jobs
(CLI, schedule, sensor) and a materialization started from the UI alike. The sensor, `ut-dagster
status`, `ut-dagster forget` and the asset checks all read runs through here, so they agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunRecord, RunsFilter

from dagster_usertesting.defs.probe_schedule import (
    CANCELED,
    FAILURE,
    SUCCESS,
    FailureStreak,
    RunOutcome,
    failure_streak,
)
from dagster_usertesting.defs.titles import TITLE_TAG, title_tags

PARTITION_TAG = "dagster/partition"
log = logging.getLogger(__name__)

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def runs_in_flight(instance: DagsterInstance, test_id: str) -> Sequence[DagsterRun]:
    """The test's runs that are queued, starting or running."""
    records = instance.get_run_records(RunsFilter(tags={PARTITION_TAG: test_id}, statuses=IN_FLIGHT))
    return [record.dagster_run for record in records]


ENDED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE]  # a cancelled run is neither
_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def outcome_of(record: RunRecord) -> RunOutcome:
    run = record.dagster_run
    ended = record.end_time or record.update_timestamp.timestamp()
    status = {DagsterRunStatus.SUCCESS: SUCCESS, DagsterRunStatus.FAILURE: FAILURE}.get(run.status, CANCELED)
    return RunOutcome(status, ended)


def failure_streak_of(
    instance: DagsterInstance, test_id: str, max_failed_runs: int, with_error: bool = False
) -> FailureStreak:
    """The test's failed runs in a row since its last successful one, from the instance's run history.

    At most `max_failed_runs` runs are read: that many failures already mean "stopped".
    `with_error` also reads why the newest one failed (its event log: one more query).
    """
    records = instance.get_run_records(
        RunsFilter(tags={PARTITION_TAG: test_id}, statuses=ENDED), limit=max_failed_runs
    )
    streak = failure_streak(outcome_of(r) for r in records)
    if with_error and streak.failures:
        newest = next(r for r in records if r.dagster_run.status == DagsterRunStatus.FAILURE)
        streak = replace(streak, last_error=run_error(instance, newest.dagster_run.run_id))
    return streak


def run_error(instance: DagsterInstance, run_id: str) -> str | None:
    """Why a run failed, in one line: its first step failure's error, else the run failure's message."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        data = entry.dagster_event.step_failure_data if entry.dagster_event else None
        error = data.error if data else None
        while error is not None and error.cls_name in _WRAPPERS and error.cause is not None:
            error = error.cause
        if error is not None:
            return _one_line(f"{entry.step_key}: {error.cls_name}: {error.message}")
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE):
        if entry.dagster_event and entry.dagster_event.message:
            return _one_line(entry.dagster_event.message)
    return None


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def title_own_run(
    instance: DagsterInstance, run: DagsterRun, read_titles: Callable[[], Mapping[str, str]]
) -> dict[str, str]:
    """Give a run of one test's partition the test's title tag when it has none; the tags added.

    The CLI, the sensor, the schedule and the sync job's page name the test when they create the
    run; Dagster's implicit asset job (the asset graph's Materialize button) tags it with the
    partition only, so its first step names it here. A title is for people reading the runs list:
    failing to read the test list costs the tag, never the step.
    """
    test_id = run.tags.get(PARTITION_TAG)
    if not test_id or TITLE_TAG in run.tags:
        return {}
    try:
        tags = title_tags(read_titles(), test_id)
        if tags:
            instance.add_run_tags(run.run_id, tags)
    except Exception as exc:
        log.warning("Could not give run %s its test's title: %s", run.run_id, exc)
        return {}
    return tags

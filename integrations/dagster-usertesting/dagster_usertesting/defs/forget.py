"""Unregistering a test: its partition goes, and on request everything synced for it.

The partition goes first: from then on no schedule or sensor requests the test, and `is_forgotten`
tells a run already in flight to land nothing more. Data is deleted only once no run of the test is
in flight: runs queued or running are cancelled (as the UI's "Terminate" does) and waited for; a run
that cannot be stopped from here (one a `ut-dagster sync` process executes itself) leaves the data in
place, and the caller is told which runs to wait for. Otherwise such a run would land payloads again
after the deletion, under a test nothing syncs or removes any more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.run_tags import CLI_HOST_TAG, CLI_PID_TAG, run_tag
from dagster_usertesting.defs.runs import runs_in_flight
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.warehouse import open_warehouse
from dagster_usertesting.settings import SyncSettings

# How long `forget --delete-data` waits for cancelled runs to end: a run stops at its next event.
WAIT_SECONDS = 120.0
_POLL_SECONDS = 0.5


def is_forgotten(instance: DagsterInstance, test_id: str) -> bool:
    """Whether the test was forgotten (is no longer a registered partition): land nothing more of it."""
    return not instance.has_dynamic_partition(test_partitions.name, str(TestId(test_id)))


@dataclass(frozen=True)
class Forgotten:
    was_registered: bool
    rows_deleted: int = 0
    objects_deleted: int = 0
    cancelled: tuple[str, ...] = ()  # run IDs
    # Runs still in flight after the wait: nothing was deleted.
    still_running: tuple[DagsterRun, ...] = ()


def forget_test(
    instance: DagsterInstance,
    test_id: TestId,
    delete_data: bool,
    settings: SyncSettings,
    wait_seconds: float = WAIT_SECONDS,
    derived_tables: Sequence[tuple[str, str]] = (),
) -> Forgotten:
    """Stop syncing a test; with `delete_data`, also remove its rows, landed responses and videos.

    `derived_tables`: (schema, table) pairs of the caller's warehouse tables keyed by `test_id` that
    keep rows no rebuild from the synced tables removes (see `WarehouseClient.delete_test`); the
    test's rows there go in the same transaction as its synced rows.

    Rows go first: a failure then leaves the landing area, from which a re-registered test is
    rebuilt without spending API requests.
    """
    registered = instance.has_dynamic_partition(test_partitions.name, test_id)
    if registered:
        instance.delete_dynamic_partition(test_partitions.name, test_id)
    if not delete_data:
        return Forgotten(registered)
    cancelled, still_running = stop_runs(instance, test_id, wait_seconds)
    if still_running:
        return Forgotten(registered, cancelled=cancelled, still_running=still_running)
    # A plain str: Snowflake's connector refuses to bind a parameter of type TestId.
    rows = sum(open_warehouse(settings).delete_test(str(test_id), derived=derived_tables).values())
    store = ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url).store()
    return Forgotten(registered, rows, Landing(store).delete_test(test_id), cancelled)


def stop_runs(
    instance: DagsterInstance, test_id: TestId, wait_seconds: float
) -> tuple[tuple[str, ...], tuple[DagsterRun, ...]]:
    """Cancel the test's runs in flight and wait up to `wait_seconds` for them to end.

    Returns the runs cancelled and those still in flight. A run is asked again when its status
    changed (a run created by a sensor tick is queued by the daemon a moment later).
    """
    deadline = time.monotonic() + wait_seconds
    asked: set[tuple[str, DagsterRunStatus]] = set()
    while True:
        for run in runs_in_flight(instance, test_id):
            if (run.run_id, run.status) not in asked and not run_by_cli(run):
                asked.add((run.run_id, run.status))
                _cancel(instance, run)
        still_running = tuple(runs_in_flight(instance, test_id))
        if not still_running or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)  # polling the run storage, bounded by the deadline
    ended = (instance.get_run_by_id(run_id) for run_id in {run_id for run_id, _ in asked})
    cancelled = tuple(r.run_id for r in ended if r and r.status == DagsterRunStatus.CANCELED)
    return cancelled, still_running


def run_by_cli(run: DagsterRun) -> bool:
    """A run a `ut-dagster sync` process executes itself: no run launcher can stop it."""
    return run_tag(run.tags, CLI_HOST_TAG) is not None and run_tag(run.tags, CLI_PID_TAG) is not None


def _cancel(instance: DagsterInstance, run: DagsterRun) -> None:
    if run.status == DagsterRunStatus.NOT_STARTED:
        # Created (by a sensor tick or the UI) and not submitted yet: nothing executes it, so it is
        # marked cancelled, as the UI's "Mark as canceled" does; the run queue skips such a run.
        instance.report_run_canceled(run, message="Cancelled by `ut-dagster forget --delete-data`.")
    elif run.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.STARTED):
        # What the UI's "Terminate" does: a queued run leaves the queue, a running one is asked
        # to stop through its run launcher. Starting and cancelling ones are waited for.
        instance.run_coordinator.cancel_run(run.run_id)

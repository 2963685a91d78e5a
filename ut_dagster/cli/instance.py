"""The Dagster instance the CLI runs in: DAGSTER_HOME, else $UT_DATA_DIR/dagster_home, created safely.

Runs go into this instance, so they show in `dagster dev` like any other run.
"""

from __future__ import annotations

import os
import socket

from dagster import AssetKey, DagsterInstance
from filelock import FileLock

from dagster_usertesting.defs.jobs import MAX_RUNTIME_TAG
from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.run_recovery import release_runs_of_dead_workers
from dagster_usertesting.defs.run_tags import CLI_HOST_TAG, CLI_PID_TAG
from ut_dagster.cli.dagster_home import prepare_dagster_home
from ut_dagster.environment import Settings


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The instance in `settings.dagster_home`, its storage created by one process at a time.

    Two commands started at the same moment on a fresh home both found no database and both
    created one: one died on `UNIQUE constraint failed: alembic_version.version_num`. A file lock
    beside the instance serialises creation; whoever waited finds the storage ready.
    """
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    with FileLock(str(home / ".ut-dagster-instance.lock"), timeout=120):
        prepare_dagster_home(settings)
        instance = DagsterInstance.get()
        # Touch each storage so its tables exist before the lock is released.
        instance.get_run_records(limit=1)
        instance.get_dynamic_partitions(test_partitions.name)
        instance.get_latest_materialization_event(AssetKey(["usertesting", "raw_sessions"]))
        release_runs_of_dead_cli_processes(instance)
    return instance


def cli_run_tags() -> dict[str, str]:
    """Tags of a `ut-dagster sync` run: its host and pid (for release_runs_of_dead_cli_processes),
    and no runtime limit: run monitoring can stop only the runs a daemon launched, and this process
    is watched by the person or cron job that started it."""
    return {CLI_HOST_TAG: socket.gethostname(), CLI_PID_TAG: str(os.getpid()), MAX_RUNTIME_TAG: "0"}


def release_runs_of_dead_cli_processes(instance: DagsterInstance) -> list[str]:
    """Mark runs of killed CLI syncs failed and free their pool slots; returns their run IDs.

    A sync killed with SIGKILL never ends its run, so the run keeps its `usertesting_api` pool slot
    and every later sync would wait for it forever: no daemon frees slots of in-process runs.
    """
    return release_runs_of_dead_workers(instance, launched_from_here=False)

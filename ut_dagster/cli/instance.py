"""The Dagster instance the CLI runs in: DAGSTER_HOME, else $UT_DATA_DIR/dagster_home, created safely.

Runs go into this instance, so they show in `dagster dev` like any other run.
"""

from __future__ import annotations

import os

from dagster import AssetKey, DagsterInstance
from filelock import FileLock

from ut_dagster.cli.dagster_home import prepare_dagster_home
from ut_dagster.defs.usertesting.partitions import test_partitions
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
        instance.get_runs(limit=1)
        instance.get_dynamic_partitions(test_partitions.name)
        instance.get_latest_materialization_event(AssetKey(["usertesting", "raw_sessions"]))
    return instance

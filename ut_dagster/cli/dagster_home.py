"""The Dagster instance the CLI and `make dev` share: DAGSTER_HOME, else $UT_DATA_DIR/dagster_home.

A home without a dagster.yaml gets one that limits every pool to one slot, so the API steps of
parallel runs (pool `usertesting_api`) queue for the request budget instead of competing for it,
and whose daemon looks at the run queue every second instead of every five (a run launched from
the UI or by a sensor starts up to 4 s sooner, for one small query of the run storage a second)
and launches the runs it dequeues side by side: a launch waits until the run's process has started
(seconds), so a sync queued behind the marts' dbt build no longer waits for that launch.

It also turns on Dagster's run monitoring: a run that never starts or never finishes cancelling is
failed after 3 minutes, a sync run past its `dagster/max_runtime` (UT_RUN_MAX_HOURS) is failed, and
the pool slots of every ended run are freed a minute later, so an interrupted run cannot hold the
`usertesting_api` slot for good. (Runs whose process died are failed by the sensor
`usertesting_run_recovery`: the default run launcher has no worker health check to monitor.)
A home whose dagster.yaml is an earlier default of this file gets the current one.

    python -m ut_dagster.cli.dagster_home   # prepare the home, print its path (for `make dev`)
"""

from __future__ import annotations

import os
from pathlib import Path

from ut_dagster.environment import Settings

_POOLS_AND_QUEUE = """\
concurrency:
  pools:
    default_limit: 1
run_queue:
  dequeue_interval_seconds: 1
  dequeue_use_threads: true
"""

DEFAULT_INSTANCE_YAML = (
    _POOLS_AND_QUEUE
    + """\
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  # The default run launcher cannot resume a run in a new process (Dagster refuses more than 0).
  max_resume_run_attempts: 0
  poll_interval_seconds: 60
  free_slots_after_run_end_seconds: 60
"""
)

# What earlier versions wrote: such a file was never edited by hand, so it is brought up to date.
EARLIER_DEFAULTS = frozenset(
    {
        "concurrency:\n  pools:\n    default_limit: 1\n",
        "concurrency:\n  pools:\n    default_limit: 1\nrun_queue:\n  dequeue_interval_seconds: 1\n",
        _POOLS_AND_QUEUE,
    }
)


def prepare_dagster_home(settings: Settings) -> Path:
    """The home directory (created, with the default dagster.yaml when it has none or an earlier one)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") in EARLIER_DEFAULTS:
        # Written whole or not at all: a process starting meanwhile must not read half a file.
        partial = config.with_suffix(f".yaml.{os.getpid()}.partial")
        partial.write_text(DEFAULT_INSTANCE_YAML, encoding="utf-8")
        partial.replace(config)
    return home


def main() -> None:
    print(prepare_dagster_home(Settings.from_env()))


if __name__ == "__main__":
    main()

"""The Dagster instance the CLI and `make dev` share: DAGSTER_HOME, else $UT_DATA_DIR/dagster_home.

A home without a dagster.yaml gets one that limits every pool to one slot, so the API steps of
parallel runs (pool `usertesting_api`) queue for the request budget instead of competing for it,
and whose daemon looks at the run queue every second instead of every five (a run launched from
the UI or by a sensor starts up to 4 s sooner, for one small query of the run storage a second)
and launches the runs it dequeues side by side: a launch waits until the run's process has started
(seconds), so a sync queued behind the marts' dbt build no longer waits for that launch.

    python -m ut_dagster.cli.dagster_home   # prepare the home, print its path (for `make dev`)
"""

from __future__ import annotations

import os
from pathlib import Path

from ut_dagster.environment import Settings

DEFAULT_INSTANCE_YAML = """\
concurrency:
  pools:
    default_limit: 1
run_queue:
  dequeue_interval_seconds: 1
  dequeue_use_threads: true
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """The home directory (created, with the default dagster.yaml when it has none)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # Written whole or not at all: a process starting meanwhile must not read half a file.
        partial = config.with_suffix(f".yaml.{os.getpid()}.partial")
        partial.write_text(DEFAULT_INSTANCE_YAML, encoding="utf-8")
        partial.replace(config)
    return home


def main() -> None:
    print(prepare_dagster_home(Settings.from_env()))


if __name__ == "__main__":
    main()

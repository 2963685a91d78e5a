"""Cost of a UI-launched sync run of an up-to-date test: target under 10 s from launch to success.

    python -m bench.ui_run [--runs 3] [--limit-s 10]

Starts the sandbox API in this process (fast rate limit), syncs one test with `ut-dagster sync`
(in a child process, so it is up to date), then launches `usertesting_sync` for that test `--runs`
times through the instance's run launcher (`dagster job launch`, what the UI's Materialize button
does: a run worker process per run) and waits for each run to finish. Reports the run's own
duration (start to end, from the run record) and the wall time from launch to the end. Results go
to bench/results/ui_run.json; exit status 1 when the median run duration is at or above the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ui_run.json"
INSTANCE_YAML = """\
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
concurrency:
  pools:
    default_limit: 1
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit-s", type=float, default=10.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from ut_dagster.sandbox import SandboxConfig, SandboxServer

    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxServer(SandboxConfig(requests_per_window=20, window_seconds=1.0)) as sandbox,
    ):
        env = {
            **os.environ,
            "UT_DATA_DIR": f"{tmp}/data",
            "DAGSTER_HOME": f"{tmp}/dagster_home",
            "USERTESTING_BASE_URL": sandbox.url,
            "USERTESTING_TOKEN_URL": sandbox.token_url,
            "USERTESTING_CLIENT_ID": sandbox.config.client_id,
            "USERTESTING_CLIENT_SECRET": sandbox.config.client_secret,
            "USERTESTING_REQUESTS_PER_MINUTE": "20",
            "USERTESTING_RATE_WINDOW_SECONDS": "1.0",
        }
        test_id = sandbox.test_ids[0]
        # The UI queues runs for the daemon, which hands them to the run launcher; the default
        # coordinator hands them over at once, so no daemon polling interval is counted.
        Path(env["DAGSTER_HOME"]).mkdir(parents=True)
        Path(env["DAGSTER_HOME"], "dagster.yaml").write_text(INSTANCE_YAML)
        subprocess.run(
            [sys.executable, "-m", "ut_dagster.cli", "sync", test_id],
            env=env,
            check=True,
            capture_output=True,
        )
        os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
        from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

        measurements = []
        for _ in range(args.runs):
            launched = time.monotonic()
            run_id = _launch(test_id, env)
            with DagsterInstance.get() as instance:
                while True:
                    run = instance.get_run_by_id(run_id)
                    if run is not None and run.is_finished:
                        break
                    time.sleep(0.2)
                record = instance.get_run_records(RunsFilter(run_ids=[run_id]))[0]
            wall = time.monotonic() - launched
            duration = (record.end_time or 0) - (record.start_time or 0)
            measurements.append(
                {
                    "run_id": run_id,
                    "status": run.status.value,
                    "run_s": round(duration, 2),
                    "wall_s": round(wall, 2),
                }
            )
            print(
                f"run {run_id}: {run.status.value}, run {duration:.1f} s, launch to end {wall:.1f} s, "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            if run.status != DagsterRunStatus.SUCCESS:
                return 1
    median = statistics.median(m["run_s"] for m in measurements)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {"measured_at": datetime.now(UTC).isoformat(), "median_run_s": median, "runs": measurements},
            indent=2,
        )
    )
    print(f"median run duration {median:.1f} s (target < {args.limit_s} s)")
    return 0 if median < args.limit_s else 1


def _launch(test_id: str, env: dict[str, str]) -> str:
    import uuid

    run_id = str(uuid.uuid4())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "job",
            "launch",
            "-m",
            "ut_dagster.definitions",
            "-j",
            "usertesting_sync",
            "--run-id",
            run_id,
            "--tags",
            json.dumps({"dagster/partition": test_id}),
        ],
        env=env,
        check=True,
        # Not captured: the code server the command starts inherits its pipes and outlives it.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return run_id


if __name__ == "__main__":
    sys.exit(main())

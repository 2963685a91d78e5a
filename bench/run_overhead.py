"""Run overhead: wall time of a sync run of an unchanged test, started three ways.

    python -m bench.run_overhead [--sessions 20] [--limit-s 10]

Against a sandbox (no rate limit to speak of), a survey test is synced once with `ut-dagster sync`
(so it is registered and landed), then:

1. CLI: `ut-dagster sync <test>` as a process, start to exit.
2. Instance run: with `dagster-webserver` and `dagster-daemon` running (as under `make dev`), a
   GraphQL `launchRun` of the test's partition, as the UI's launch button sends it, queues the run;
   the daemon dequeues and launches it. Time from the run's creation to its end.
3. Sensor: the sensor is started from the UI (GraphQL); one new session is added so the sensor has a
   reason to start a run (it skips unchanged tests). Time from that run's creation to its end.

Target: each <= --limit-s seconds on this machine.

--dev runs the daemon and the webserver as `make dev` (`dg dev`) does: with
DAGSTER_IS_DEV_CLI=1, which `dg dev` passes on to the code server and every run worker (results in
run_overhead_dev.json).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import exit_code, write_result
from bench.dagster_runs import (
    cli_sync,
    daemon,
    environment,
    run_failure,
    run_phases,
    runs_launched_by_sensor,
    start_sensor_from_ui,
    submit_run_from_ui,
    wait_for_run,
    webserver,
)


def report(
    args: argparse.Namespace, measured: dict[str, Any], errors: dict[str, str], daemon_log: str = ""
) -> dict[str, Any]:
    ways = ("cli", "instance_run", "sensor_run")
    passed = not errors and all(measured.get(w, float("inf")) <= args.limit_s for w in ways)
    result = write_result(
        "run_overhead_dev" if args.dev else "run_overhead",
        target=f"a sync of an unchanged test <= {args.limit_s:.0f} s started from the CLI, the instance (UI), the sensor",
        measured=", ".join(
            f"{w} {measured[w]} s"
            if w in measured
            else f"{w} {'not reached' if errors.get(w) == 'not reached' else 'failed'}"
            for w in ways
        ),
        passed=passed,
        note="Instance and sensor runs: submitted and started from the UI (GraphQL to dagster-webserver), "
        "from the run's creation (queued) to its end, daemon dequeue included. "
        "The sensor run syncs one new session (the sensor skips unchanged tests)."
        + (" Daemon and launch as under `make dev` (DAGSTER_IS_DEV_CLI=1)." if args.dev else ""),
        details={"seconds": measured, "errors": errors, "daemon_log_tail": daemon_log if errors else ""},
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--limit-s", type=float, default=10.0)
    parser.add_argument("--timeout-s", type=float, default=240.0)
    parser.add_argument("--dev", action="store_true", help="daemon and launch as under `make dev`")
    args = parser.parse_args(argv)

    from dagster_usertesting.testing import SURVEY, SandboxConfig, SandboxServer, StudySpec

    config = SandboxConfig(
        studies=(StudySpec(SURVEY, args.sessions),), legacy_studies=0, requests_per_window=100_000
    )
    measured: dict[str, Any] = {}
    errors: dict[str, str] = {}
    daemon_log = ""
    # The daemon may still be writing its history as it stops: leftovers must not fail the result.
    with (
        tempfile.TemporaryDirectory(prefix="bench-overhead-", ignore_cleanup_errors=True) as tmp,
        SandboxServer(config) as sandbox,
    ):
        env = environment(sandbox, Path(tmp))
        [test_id] = sandbox.test_ids
        first = cli_sync(env, test_id)
        if first.wait() != 0:
            errors["first sync"] = first.stderr.read().decode()[-2000:] if first.stderr else ""
        started = time.monotonic()
        process = cli_sync(env, test_id)
        code = process.wait()
        measured["cli"] = round(time.monotonic() - started, 1)
        if code != 0:
            errors["cli"] = process.stderr.read().decode()[-2000:] if process.stderr else ""
        print(f"  cli: {measured['cli']} s", flush=True)
        report(args, measured, {**errors, "instance_run": "not reached", "sensor_run": "not reached"})
        if args.dev:
            env = {**env, "DAGSTER_IS_DEV_CLI": "1"}
        with daemon(env, Path(tmp) / "daemon.log"), webserver(env, Path(tmp) / "webserver.log") as ui:
            try:
                run_id = submit_run_from_ui(ui, test_id)
                times = wait_for_run(env, run_id, args.timeout_s)
                measured["instance_run"] = round(times["ended"] - times["created"], 1)
                measured["instance_run_execution_only"] = round(times["ended"] - times["started"], 1)
                measured["instance_run_phases"] = run_phases(env, run_id)
                if times["status"] != "SUCCESS":
                    errors["instance_run"] = f"run {run_id} {times['status']}: {run_failure(env, run_id)}"
                print(f"  instance run: {measured['instance_run']} s ({times['status']})", flush=True)
                report(args, measured, {**errors, "sensor_run": "not reached"})
            except Exception as exc:
                errors["instance_run"] = repr(exc)[-2000:]
            try:
                sandbox.add_sessions(test_id, 1)
                start_sensor_from_ui(ui)
                deadline = time.monotonic() + args.timeout_s
                launched: list[str] = []
                while not launched and time.monotonic() < deadline:
                    launched = runs_launched_by_sensor(env)
                    time.sleep(1.0)  # polling the daemon's sensor tick in another process
                if not launched:
                    raise TimeoutError("the sensor started no run")
                times = wait_for_run(env, launched[0], args.timeout_s)
                measured["sensor_run"] = round(times["ended"] - times["created"], 1)
                measured["sensor_run_phases"] = run_phases(env, launched[0])
                if times["status"] != "SUCCESS":
                    errors["sensor_run"] = (
                        f"run {launched[0]} {times['status']}: {run_failure(env, launched[0])}"
                    )
                print(f"  sensor run: {measured['sensor_run']} s ({times['status']})", flush=True)
            except Exception as exc:
                errors["sensor_run"] = repr(exc)[-2000:]
            daemon_log = (Path(tmp) / "daemon.log").read_text(errors="replace")[-3000:]

    result = report(args, measured, errors, daemon_log)
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())

"""Marts build: the CPU a `dbt build` of the research marts costs the Dagster process that runs it.

    python -m bench.marts_build [--sessions 30] [--max-cpu-share 0.5]

A sandbox test is synced into DuckDB with `ut-dagster sync`; then the code location's `research_marts`
job (the component's `execute`: `dbt build`, row counts, column types, the research alerts) runs
in this process, in process, as a run worker runs it. Measured: the build's wall time, this process's
CPU time (every thread), and dbt's (its subprocesses).

Target: this process uses at most --max-cpu-share of one core over the build. dagster-dbt's metadata
fetchers poll dbt's event stream without sleeping (dagster's `imap`) when handed a running build:
one core at 100 % for the whole build, and less CPU for dbt itself.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import exit_code, write_result
from bench.dagster_runs import cli_sync, environment


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(env: dict[str, str]) -> dict[str, Any]:
    """Run the research_marts job in this process, with `env` as the environment."""
    os.environ.update(env)
    from dagster import DagsterInstance

    from ut_dagster.definitions import defs
    from ut_dagster.defs.research_marts.component import RESEARCH_MARTS_JOB_NAME

    job = defs.resolve_job_def(RESEARCH_MARTS_JOB_NAME)
    with DagsterInstance.ephemeral() as instance:
        started, cpu, children = time.monotonic(), time.process_time(), _children_cpu()
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        wall = time.monotonic() - started
        own = time.process_time() - cpu
        dbt = _children_cpu() - children
    return {
        "success": result.success,
        "models": len(result.get_asset_materialization_events()),
        "wall_s": round(wall, 2),
        "dagster_process_cpu_s": round(own, 2),
        "dbt_cpu_s": round(dbt, 2),
        "cpu_share": round(own / wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--max-cpu-share", type=float, default=0.5)
    args = parser.parse_args(argv)

    from dagster_usertesting.testing import THINK_OUT_LOUD, SandboxConfig, SandboxServer, StudySpec

    config = SandboxConfig(
        studies=(StudySpec(THINK_OUT_LOUD, args.sessions),), legacy_studies=0, requests_per_window=100_000
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-marts-", ignore_cleanup_errors=True) as tmp,
        SandboxServer(config) as sandbox,
    ):
        env = environment(sandbox, Path(tmp))
        [test_id] = sandbox.test_ids
        synced = cli_sync(env, test_id)
        if synced.wait() != 0:
            error = synced.stderr.read().decode()[-2000:] if synced.stderr else ""
            return exit_code(
                write_result(
                    "marts_build",
                    target="",
                    measured="the sync before the build failed",
                    passed=None,
                    details={"error": error},
                )
            )
        measured = build(env)
    passed = measured["success"] and measured["cpu_share"] <= args.max_cpu_share
    result = write_result(
        "marts_build",
        target=f"the Dagster process uses <= {args.max_cpu_share:g} of a core during a marts build",
        measured=(
            f"{measured['models']} models in {measured['wall_s']} s: Dagster process {measured['dagster_process_cpu_s']}"
            f" CPU-s ({measured['cpu_share']} of a core), dbt {measured['dbt_cpu_s']} CPU-s"
            + ("" if measured["success"] else "; the build FAILED")
        ),
        passed=passed,
        note=f"The code location's research_marts job in process, after `ut-dagster sync` of {args.sessions} sessions "
        "into DuckDB (the path a run worker takes, without the worker's start-up).",
        details=measured,
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())

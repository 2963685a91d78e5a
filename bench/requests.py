"""API requests a sync spends, against the minimum and against the vendor recipe's pipeline.

    python -m bench.requests [--sessions 250] [--large 10600] [--skip-large]

Runs `ut-dagster sync` (in process, `run_sync`, the CLI's code) against the sandbox with a rate
limit too high to matter, and counts what the sandbox served per endpoint, for a survey, a
think-out-loud and an interaction test of --sessions sessions each:

  first sync; unchanged rerun; 10 new sessions; 10 new + 5 deleted

and for a survey test of --large sessions (more than offset paging reaches): first sync, rerun.

Minimum for a test of N listed sessions: ceil(N/500) list requests + 1 detail per new session +
1 transcript per new session of a kind that has transcripts (think-out-loud, live conversation) +
for an interaction test, 1 qxScores request per sync with new sessions (its QXscore summary is
computed by UserTesting over all sessions, so it changes whenever sessions complete).
Recipe (/work/shared/seeds/000_7b6b861847f83a83.txt): every run pages the whole listing 100 at a
time (ceil(N/100) list requests), and asks details and a transcript for every session finishing
after its checkpoint (its last max finishTime), whatever the test's kind. It never notices
deletions. Target: all syncs of a test together spend at most 11 requests over the minimum: at most 10
transcript probes per test, once (`no_transcript_probe`), and the one `limit=1` listing that shows the
test still answered after their 404s (lib/sync/revocation.py; without it a revoked test's 404s would
be taken for "this test has no transcripts").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import exit_code, timed, write_result

LIST_PAGE, RECIPE_PAGE = 500, 100
PROBE_ALLOWANCE = 10 + 1  # transcript probes + the revocation probe after them
TRANSCRIPT_KINDS = {"THINK_OUT_LOUD", "LIVE_CONVERSATION"}
QX_KINDS = {"NON_THINK_OUT_LOUD"}  # the sandbox's interaction tests, the only ones with QXscores


def minimum(listed: int, new: int, kind: str) -> int:
    transcripts = new if kind in TRANSCRIPT_KINDS else 0
    qx_scores = 1 if kind in QX_KINDS and new else 0
    return math.ceil(listed / LIST_PAGE) + new + transcripts + qx_scores


def recipe(listed: int, new: int) -> int:
    # One transcript request per processed session, "optional / not always present".
    return math.ceil(listed / RECIPE_PAGE) + 2 * new


@contextlib.contextmanager
def sync_environment(sandbox: Any, root: Path) -> Iterator[None]:
    """The environment `ut-dagster sync` reads, pointing at `sandbox`, state under `root`."""
    env = {
        "UT_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        **sandbox.client_environment(),
        # Clips have their own settle policy and budget (bench/clips_requests.py, docs/api-budget.md).
        "UT_CLIPS": "false",
    }
    from ut_dagster.cli.sync import DEFAULT_INSTANCE_YAML

    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DEFAULT_INSTANCE_YAML)  # what `ut-dagster sync` would write
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def sync_once(sandbox: Any, test_id: str) -> tuple[dict[str, int], float, bool]:
    """Requests per endpoint, seconds, success of one `ut-dagster sync <test_id>`."""
    from ut_dagster.cli.sync import run_sync

    sandbox.reset_requests()
    with contextlib.redirect_stdout(io.StringIO()):
        seconds, status = timed(lambda: run_sync([test_id]))
    return sandbox.request_counts(), seconds, status == 0


def measure_test(sandbox: Any, test_id: str, kind: str, scenarios: list[str]) -> list[dict[str, Any]]:
    size = len(sandbox.dataset.session_ids(test_id))
    rows = []
    synced: set[str] = set()  # what the previous sync saw listed
    for scenario in scenarios:
        if scenario.startswith("10 new"):
            sandbox.add_sessions(test_id, 10)
        if scenario == "10 new + 5 deleted":
            sandbox.delete_sessions(test_id=test_id, count=5)
        listed_ids = set(sandbox.dataset.session_ids(test_id))
        listed, new = len(listed_ids), len(listed_ids - synced)
        synced = listed_ids
        counts, seconds, ok = sync_once(sandbox, test_id)
        ours = sum(counts.values())
        least = minimum(listed, new, kind)
        row = {
            "kind": kind,
            "test_size": size,
            "sessions": listed,
            "scenario": scenario,
            "ours": ours,
            "minimum": least,
            "recipe": recipe(listed, new),
            "over_minimum": ours - least,
            "new_sessions": new,
            # Sessions a sync should have fetched but did not (e.g. beyond offset paging's reach).
            "details_missing": max(0, new - counts.get("session_details", 0)),
            "by_endpoint": counts,
            "sync_succeeded": ok,
            "seconds": round(seconds, 1),
        }
        print(
            f"  {kind:16} {listed:>6} {scenario:20} ours {ours:>6}  minimum {least:>6}  recipe "
            f"{row['recipe']:>6}  {counts}  {'ok' if ok else 'SYNC FAILED'}  {seconds:.0f} s",
            flush=True,
        )
        rows.append(row)
    return rows


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    # "At most 11 probe requests per test, once": what a test's syncs spend over the minimum, summed.
    per_test: dict[str, int] = {}
    for row in rows:
        key = f"{row['kind']} {row['test_size']}"
        per_test[key] = per_test.get(key, 0) + row["over_minimum"]
    passed = all(r["sync_succeeded"] for r in rows) and all(v <= PROBE_ALLOWANCE for v in per_test.values())
    total = {key: sum(r[key] for r in rows) for key in ("ours", "minimum", "recipe")}
    missing = {
        f"{r['kind']} {r['test_size']}": r.get("details_missing", 0) for r in rows if r.get("details_missing")
    }
    return write_result(
        "requests",
        target=f"all syncs of a test together <= minimum + {PROBE_ALLOWANCE} requests",
        measured=(
            f"{total['ours']} requests over {len(rows)} syncs (minimum {total['minimum']}, recipe "
            f"{total['recipe']}); over the minimum per test: "
            + ", ".join(f"{k} {v:+d}" for k, v in per_test.items())
            + "".join(f"; {k}: {v} sessions never fetched" for k, v in missing.items())
        ),
        passed=passed,
        note="Recipe: page size 100, a transcript request for every processed session, finishTime "
        "checkpoint; it never sees deletions and cannot page past offset 10,000. Per-sync rows in the JSON.",
        details={"over_minimum_per_test": per_test, "rows": rows},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=120)
    parser.add_argument("--large", type=int, default=10_600)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args(argv)

    from dagster_usertesting.testing import (
        INTERACTION,
        SURVEY,
        THINK_OUT_LOUD,
        SandboxConfig,
        SandboxServer,
        StudySpec,
    )

    kinds = (SURVEY, THINK_OUT_LOUD, INTERACTION)
    studies = [StudySpec(kind, args.sessions, f"bench {kind}") for kind in kinds]
    if not args.skip_large:
        studies.append(StudySpec(SURVEY, args.large, "bench large survey"))
    config = SandboxConfig(
        seed=21, studies=tuple(studies), legacy_studies=0, requests_per_window=1_000_000, window_seconds=60.0
    )
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {"passed": None}
    with (
        tempfile.TemporaryDirectory(prefix="bench-requests-") as root,
        SandboxServer(config) as sandbox,
        sync_environment(sandbox, Path(root)),
    ):
        test_ids = sandbox.test_ids
        scenarios = ["first sync", "unchanged rerun", "10 new", "10 new + 5 deleted"]
        plan = [(t, k, scenarios) for t, k in zip(test_ids, kinds, strict=False)]
        if not args.skip_large:
            plan.append((test_ids[3], SURVEY, ["first sync", "unchanged rerun", "10 new"]))
        for test_id, kind, test_scenarios in plan:
            rows += measure_test(sandbox, test_id, kind, test_scenarios)
            result = report(rows)  # after each test, so an interrupted run still leaves numbers
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())

"""Incremental cost: the warehouse step when 10 sessions arrive at a 10,000-session test vs a 100-session one.

    python -m bench.incremental [--large 10000] [--small 100] [--new 10] [--runs 3]

Loads a --large and a --small session test into one DuckDB file through the warehouse client
(`open_warehouse(...).write(test_id, TableWrite(table, rows))`), then writes --new more sessions to
each as `TableWrite(table, rows, sessions=<the new ids>)` (what a sync of new sessions writes), all
four session tables, and measures the seconds of those writes and the rows they changed (partition
row counts before and after, and what the client reports if it returns anything). Repeated --runs
times with fresh sessions; the fastest counts.

Target: rows written = the new sessions' rows (nothing else rewritten), and the large test's write
time within 2x of the small test's. Without `TableWrite`/`open_warehouse` (ut_dagster.lib.warehouse,
INTERFACES.md) the result is "not measured".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import exit_code, write_result
from bench.warehouse import project_writer, warehouse_client_available

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _payloads(data: list[tuple[str, str, bytes]], suffix: str) -> list[tuple[str, object, datetime]]:
    return [(f"{session_id}-{suffix}", json.loads(body), AT) for _, session_id, body in data]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    target = "rows written = the new sessions' rows; large test's write time <= 2x the small test's"
    if not warehouse_client_available():
        result = write_result(
            "incremental",
            target=target,
            measured="not measured: ut_dagster.lib.warehouse has no TableWrite/open_warehouse yet",
            passed=None,
        )
        return exit_code(result)

    from bench.payloads import generate
    from ut_dagster.lib.normalize import details_frames
    from ut_dagster.lib.normalize.details import DETAIL_TABLES

    pool = generate(args.large + args.runs * args.new, seed=23)
    base, extra = pool[: args.large], pool[args.large :]
    measurements: dict[str, list[dict[str, Any]]] = {"large": [], "small": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp,
        project_writer(Path(tmp) / "w.duckdb") as writer,
    ):
        tests = {"large": ("bench-large", base), "small": ("bench-small", base[: args.small])}
        for test_id, sessions in tests.values():
            frames = details_frames(test_id, _payloads(sessions, "base")).frames
            for table in DETAIL_TABLES:
                writer.write(test_id, table, frames[table.name], None)
        for run in range(args.runs):
            new = extra[run * args.new : (run + 1) * args.new]
            for size, (test_id, _) in tests.items():
                result = details_frames(test_id, _payloads(new, f"new{run}"))
                ids = frozenset(result.sessions)
                before = {t.name: len(writer.read(t, test_id)) for t in DETAIL_TABLES}
                started = time.perf_counter()
                reports = [
                    writer.write(test_id, table, result.frames[table.name], ids) for table in DETAIL_TABLES
                ]
                seconds = time.perf_counter() - started
                after = {t.name: len(writer.read(t, test_id)) for t in DETAIL_TABLES}
                new_rows = sum(len(frame) for frame in result.frames.values())
                measurements[size].append(
                    {
                        "seconds": round(seconds, 4),
                        "rows_of_new_sessions": new_rows,
                        "partition_growth": sum(after[n] - before[n] for n in after),
                        "client_reports": [str(r) for r in reports if r is not None],
                    }
                )
                print(f"  {size:5} run {run}: {seconds * 1000:.0f} ms, {new_rows} new rows", flush=True)

    large = min(m["seconds"] for m in measurements["large"])
    small = min(m["seconds"] for m in measurements["small"])
    rows_ok = all(
        m["partition_growth"] == m["rows_of_new_sessions"] for ms in measurements.values() for m in ms
    )
    ratio = large / small if small else float("inf")
    result = write_result(
        "incremental",
        target=target,
        measured=(
            f"{args.new} new sessions: {args.large:,}-session test {large * 1000:.0f} ms, {args.small}-session "
            f"test {small * 1000:.0f} ms ({ratio:.2f}x); rows written = new rows: {rows_ok}"
        ),
        passed=rows_ok and ratio <= 2,
        note="Rows written checked as partition growth; the client's own counts are in the JSON when it returns them.",
        details={"writer": writer.kind, "ratio": round(ratio, 3), **measurements},
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())

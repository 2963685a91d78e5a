"""Incremental cost: the warehouse step when 10 sessions arrive at a 10,000-session test vs a 100-session one.

    python -m bench.incremental [--large 10000] [--small 100] [--new 10] [--runs 3]

Loads a --large and a --small session test into one DuckDB file with the calls the session_tables
asset makes (`session_rows`, `details_writes`, `write_together`), then writes --new more sessions to
each as a sync of new sessions does (`details_writes(rows, sessions=<the new ids>)`: the five
tables in one transaction), and measures the seconds of those writes and the rows they changed
(partition row counts before and after, and the rows each table's write reports inserted).
Repeated --runs times with fresh sessions; the fastest counts.

Target: rows written = the new sessions' rows (nothing else rewritten), and the large test's write
time within 2x of the small test's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import exit_code, write_result

if TYPE_CHECKING:
    from dagster_usertesting.lib.normalize import SessionRows

AT = datetime(2026, 1, 1, tzinfo=UTC)
Payloads = list[tuple[str, str, bytes]]


def _rows(test_id: str, data: Payloads, suffix: str) -> tuple[list[SessionRows], frozenset[str]]:
    """The sessions' rows as the details step makes them, under fresh session IDs, and those IDs."""
    from dagster_usertesting.lib.normalize import session_rows

    ids = [f"{session_id}-{suffix}" for _, session_id, _ in data]
    rows = [session_rows(test_id, i, body, AT) for i, (_, _, body) in zip(ids, data, strict=True)]
    return rows, frozenset(ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    target = "rows written = the new sessions' rows; large test's write time <= 2x the small test's"

    from bench.payloads import generate
    from dagster_usertesting.defs.assets.common import write_together
    from dagster_usertesting.lib.normalize import SESSION_TABLES
    from dagster_usertesting.lib.sync.details_step import details_writes
    from dagster_usertesting.lib.warehouse import duckdb_io_manager

    pool = generate(args.large + args.runs * args.new, seed=23)
    base, extra = pool[: args.large], pool[args.large :]
    measurements: dict[str, list[dict[str, Any]]] = {"large": [], "small": []}
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        warehouse = duckdb_io_manager(Path(tmp) / "w.duckdb").client()
        tests = {"large": ("bench-large", base), "small": ("bench-small", base[: args.small])}
        for test_id, sessions in tests.values():
            rows, _ = _rows(test_id, sessions, "base")
            write_together(warehouse, test_id, details_writes(rows, None))
        for run in range(args.runs):
            new = extra[run * args.new : (run + 1) * args.new]
            for size, (test_id, _) in tests.items():
                rows, ids = _rows(test_id, new, f"new{run}")
                writes = details_writes(rows, ids)
                before = {t.name: len(warehouse.read(t, test_id)) for t in SESSION_TABLES}
                started = time.perf_counter()
                reports = write_together(warehouse, test_id, writes)
                seconds = time.perf_counter() - started
                after = {t.name: len(warehouse.read(t, test_id)) for t in SESSION_TABLES}
                new_rows = sum(len(write.rows) for write in writes)
                measurements[size].append(
                    {
                        "seconds": round(seconds, 4),
                        "rows_of_new_sessions": new_rows,
                        "partition_growth": sum(after[n] - before[n] for n in after),
                        "rows_inserted": {name: r["rows_inserted"] for name, r in reports.items()},
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
        note="Rows written checked as partition growth; each table's rows_inserted is in the JSON.",
        details={"ratio": round(ratio, 3), **measurements},
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())

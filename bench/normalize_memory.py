"""Peak memory while normalizing and loading 100,000 sessions into DuckDB: must stay under 1 GiB.

    python -m bench.normalize_memory [--sessions 100000] [--batch 2000] [--limit-mib 1024]

A fresh child process generates 10,000 distinct v3 payloads as JSON bytes (what the landing area
holds; every product type and task type, nulls, unknown types), then normalizes and loads
--sessions sessions (the payloads repeated under new session IDs) into a DuckDB file through the
calls the session_tables asset makes (`session_rows`, `details_writes`, `write_together`), --batch
sessions per write (0 = all sessions in one write, as a rebuild does). Peak resident memory of the
whole process is the kernel's high-water mark (VmHWM) and a 5 ms sampler, whichever is higher; the
generated payloads are part of it. Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import exit_code, write_result

MIB = 1 << 20


def worker(sessions: int, batch: int, database: Path) -> dict[str, object]:
    from datetime import UTC, datetime

    from bench.payloads import generate
    from bench.video_memory import PeakSampler, _reset_high_water_mark, _rss_bytes, _status_kib
    from dagster_usertesting.defs.assets.common import write_together
    from dagster_usertesting.lib.normalize import SESSION_TABLES, session_rows
    from dagster_usertesting.lib.sync.details_step import details_writes
    from dagster_usertesting.lib.warehouse import duckdb_io_manager

    distinct = [(session_id, body) for _, session_id, body in generate(min(sessions, 10_000), seed=17)]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    test_id = "bench-100k"
    import gc

    gc.collect()
    baseline = _rss_bytes()
    _reset_high_water_mark()
    sampler = PeakSampler().__enter__()
    started = time.perf_counter()
    written = {t.name: 0 for t in SESSION_TABLES}
    size = batch or sessions
    warehouse = duckdb_io_manager(database).client()

    def session_id(index: int) -> str:
        return f"{distinct[index % len(distinct)][0]}-{index // len(distinct)}"

    for start in range(0, sessions, size):
        stop = min(start + size, sessions)
        rows = [
            session_rows(test_id, session_id(index), distinct[index % len(distinct)][1], at)
            for index in range(start, stop)
        ]
        replaced = frozenset(session_id(index) for index in range(start, stop)) if batch else None
        writes = details_writes(rows, replaced)
        write_together(warehouse, test_id, writes)
        for write in writes:
            written[write.table.name] += len(write.rows)
        del rows, writes
    seconds = time.perf_counter() - started
    sampler.__exit__()
    peak = max(_status_kib("VmHWM") * 1024, sampler.peak)
    return {
        "sessions": sessions,
        "batch": batch,
        "rows_written": written,
        "seconds": round(seconds, 1),
        "baseline_rss_mib": round(baseline / MIB, 1),
        "peak_rss_mib": round(peak / MIB, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2_000, help="sessions per write; 0 = one write")
    parser.add_argument("--limit-mib", type=int, default=1024)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(worker(spec["sessions"], spec["batch"], Path(spec["database"]))), flush=True)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        spec = {"sessions": args.sessions, "batch": args.batch, "database": str(Path(tmp) / "w.duckdb")}
        out = subprocess.run(
            [sys.executable, "-m", "bench.normalize_memory", "--worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        result = write_result(
            "normalize_memory",
            target=f"peak RSS < {args.limit_mib} MiB for {args.sessions:,} sessions",
            measured=f"worker failed (exit {out.returncode})",
            passed=False,
        )
        return exit_code(result)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    passed = measured["peak_rss_mib"] < args.limit_mib
    result = write_result(
        "normalize_memory",
        target=f"peak RSS < {args.limit_mib} MiB normalizing and loading {args.sessions:,} sessions",
        measured=(
            f"peak {measured['peak_rss_mib']} MiB (baseline {measured['baseline_rss_mib']} MiB with the "
            f"payloads), {measured['seconds']} s, batches of {args.batch or args.sessions:,} sessions"
        ),
        passed=passed,
        note="The session_tables asset's calls per batch of landed sessions; --batch 0 writes all at once.",
        details=measured,
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())

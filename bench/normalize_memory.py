"""Peak memory while normalizing and loading 100,000 sessions into DuckDB: must stay under 1 GiB.

    python -m bench.normalize_memory [--sessions 100000] [--batch 2000] [--limit-mib 1024]

A fresh child process generates 10,000 distinct v3 payloads as JSON bytes (what the landing area
holds; every product type and task type, nulls, unknown types), then normalizes and loads
--sessions sessions (the payloads repeated under new session IDs) into a DuckDB file through the
project's code: `details_frames` + the warehouse write (bench/warehouse.py), --batch sessions per
write (0 = all sessions in one write, as a partition rewrite would). Peak resident memory of the
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
    from bench.warehouse import project_writer
    from ut_dagster.lib.normalize import details_frames
    from ut_dagster.lib.normalize.details import DETAIL_TABLES

    distinct = [(session_id, body) for _, session_id, body in generate(min(sessions, 10_000), seed=17)]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    test_id = "bench-100k"
    import gc

    gc.collect()
    baseline = _rss_bytes()
    _reset_high_water_mark()
    sampler = PeakSampler().__enter__()
    started = time.perf_counter()
    written = {t.name: 0 for t in DETAIL_TABLES}
    size = batch or sessions

    def payloads(start: int, stop: int):
        for index in range(start, stop):
            session_id, body = distinct[index % len(distinct)]
            yield f"{session_id}-{index // len(distinct)}", json.loads(body), at

    with project_writer(database) as writer:
        for start in range(0, sessions, size):
            stop = min(start + size, sessions)
            result = details_frames(test_id, payloads(start, stop))
            replaced = frozenset(result.sessions) if batch else None
            for table in DETAIL_TABLES:
                frame = result.frames[table.name]
                writer.write(test_id, table, frame, replaced)
                written[table.name] += len(frame)
            del result
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
        "writer": writer.kind,
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
        note="details_frames + warehouse write per batch of landed sessions; --batch 0 writes all at once.",
        details=measured,
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())

"""Warehouse time of a sync: a 10,000-session test loaded whole, then 10 new sessions added.

    python -m bench.warehouse_writes                    # DuckDB, 10,000 sessions, 10 tasks each
    python -m bench.warehouse_writes --sessions 2000 --tasks 5

Targets: the whole test's `tasks` rows (100,000 rows) written in well under a second of warehouse
time (wall, or CPU on a loaded host); adding 10 sessions deletes and inserts only those sessions' rows (a session write), so its
time does not grow with the test. Times are of `DuckDBWarehouse.write` alone (the frames are built
before). Results go to bench/results/warehouse_writes.json; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dagster_usertesting.lib.normalize.frames import typed_frame
from dagster_usertesting.lib.schema import TASKS
from dagster_usertesting.lib.warehouse import TableWrite
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
RESULTS = Path(__file__).parent / "results" / "warehouse_writes.json"


def tasks_rows(session_ids: list[str], tasks: int) -> pd.DataFrame:
    n = len(session_ids) * tasks
    position = np.tile(np.arange(tasks), len(session_ids))
    start = position * 30_000
    frame = pd.DataFrame(
        {
            "test_id": TEST_ID,
            "session_id": np.repeat(session_ids, tasks),
            "participant_id": np.repeat([f"participant-{s}" for s in session_ids], tasks),
            "task_uuid": [f"task-{p}" for p in position],
            "task_text": "How likely are you to recommend us to a friend or colleague?",
            "task_type": "NPS",
            "position": position,
            "start_time_ms": start,
            "end_time_ms": start + 12_000,
            "duration_ms": 12_000,
            "skipped": position % 7 == 6,
            "answer_json": [json.dumps({"nps": {"value": int(p % 11)}}) for p in position],
            "nps_score": position % 11,
            "rating_value": np.where(position % 2 == 0, 4.5, np.nan),
            "answer_text": None,
            "extracted_at": datetime(2025, 3, 1, 8, 0),
        },
        index=range(n),
    )
    return typed_frame(TASKS, frame)


def timed(warehouse: DuckDBWarehouse, write: TableWrite) -> tuple[float, float, dict]:
    """Wall and CPU seconds (all threads) of one write; CPU time says more on a shared, loaded host."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = warehouse.write(TEST_ID, write)
    return time.perf_counter() - wall, time.process_time() - cpu, result.metadata()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=10, help="task rows per session")
    parser.add_argument("--new", type=int, default=10, help="sessions added by the incremental sync")
    args = parser.parse_args()

    held = [f"session-{i:06d}" for i in range(args.sessions)]
    new = [f"session-{i:06d}" for i in range(args.sessions, args.sessions + args.new)]
    whole, added = tasks_rows(held, args.tasks), tasks_rows(new, args.tasks)
    with tempfile.TemporaryDirectory() as folder:
        warehouse = DuckDBWarehouse(Path(folder) / "warehouse.duckdb")
        first_s, first_cpu, first = timed(warehouse, TableWrite(TASKS, whole))
        again_s, again_cpu, _ = timed(warehouse, TableWrite(TASKS, whole))  # deletes it all first
        add_s, add_cpu, add = timed(warehouse, TableWrite(TASKS, added, sessions=frozenset(new)))

    report = {
        "machine": platform.platform(),
        "sessions": args.sessions,
        "rows": len(whole),
        "load_average": os.getloadavg()[0],
        "first_load_s": round(first_s, 3),
        "first_load_cpu_s": round(first_cpu, 3),
        "rewrite_s": round(again_s, 3),
        "rewrite_cpu_s": round(again_cpu, 3),
        "add_sessions": args.new,
        "add_s": round(add_s, 3),
        "add_cpu_s": round(add_cpu, 3),
        "add_rows_deleted": add["rows_deleted"],
        "add_rows_inserted": add["rows_inserted"],
        "rows_after": add["dagster/row_count"],
    }
    print(json.dumps(report, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    ok = (
        min(first_s, first_cpu) < 1.0
        and min(again_s, again_cpu) < 1.0
        and add["rows_inserted"] == len(added)
        and add["rows_deleted"] == 0
    )
    return 0 if ok and first["rows_inserted"] == len(whole) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""What every benchmark shares: where results go, their shape, the machine they ran on, timers."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(load[0], 2) if load[0] is not None else None,
    }


def write_result(
    name: str,
    *,
    target: str,
    measured: str,
    passed: bool | None,
    details: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """bench/results/<name>.json; `passed` None means "not measured" (say why in `measured`/`note`)."""
    result = {
        "benchmark": name,
        "target": target,
        "measured": measured,
        "passed": passed,
        "note": note,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "details": details or {},
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    verdict = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[passed]
    print(f"[{name}] {verdict}: {measured} (target: {target})", flush=True)
    return result


def exit_code(result: dict[str, Any]) -> int:
    """0 when passed, 1 when missed; 0 for "not measured" (the runner reports it, it is not a miss)."""
    return 1 if result["passed"] is False else 0


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def best_of(runs: int, function: Callable[[], Any]) -> tuple[float, list[float], Any]:
    """The fastest of `runs` timings (the least disturbed by other processes on a shared machine)."""
    times, value = [], None
    for _ in range(runs):
        seconds, value = timed(function)
        times.append(seconds)
    return min(times), times, value

"""Run every benchmark, each in its own process, and write the results table into bench/README.md.

    python -m bench                       # all of them (`make bench`)
    python -m bench normalize_load requests   # some of them
    python -m bench --table               # only rewrite the README table from bench/results/

Exit status 1 when any benchmark missed its target (or crashed); "not measured" is reported, not a
miss. Each benchmark's numbers are in bench/results/<name>.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import RESULTS_DIR

# name -> extra arguments; the order is the order of the table.
BENCHMARKS: dict[str, list[str]] = {
    "requests": [],
    "clips_requests": [],
    "budget_use": [],
    "request_counting": [],
    "normalize_load": [],
    "incremental": [],
    "normalize_memory": [],
    "video_memory": ["--stores", "local,s3"],
    "run_overhead": [],
    "marts_build": [],
    "scale": [],
}
README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- results: written by python -m bench -->", "<!-- /results -->"


def run(name: str) -> tuple[int, float]:
    started = time.monotonic()
    print(f"=== bench.{name}", flush=True)
    code = subprocess.call([sys.executable, "-m", f"bench.{name}", *BENCHMARKS[name]])
    return code, time.monotonic() - started


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(names: list[str], outcomes: dict[str, tuple[int, float]]) -> str:
    lines = [
        "| benchmark | target | measured | result | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in names:
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            lines.append(f"| `{name}` | | no result written | crashed | |")
            continue
        result = json.loads(path.read_text())
        passed = result.get("passed")
        verdict = {True: "pass", False: "**MISSED**", None: "not measured"}[passed]
        code, seconds = outcomes.get(name, (None, None))
        if code not in (None, 0) and passed is not False:
            verdict = f"crashed (exit {code})"
        when = result.get("recorded_at", "")
        lines.append(
            f"| `{name}` | {_cell(result.get('target', ''))} | {_cell(result.get('measured', ''))} | "
            f"{verdict} | {_cell(result.get('note', ''))}"
            + (f" ({seconds:.0f} s, {when})" if seconds is not None else f" ({when})")
            + " |"
        )
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text()
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        readme = f"{head}{BEGIN}\n{text}\n{END}{tail}"
    else:
        readme = f"{readme.rstrip()}\n\n{BEGIN}\n{text}\n{END}\n"
    README.write_text(readme)


def main(argv: list[str]) -> int:
    if argv == ["--table"]:
        write_readme(table(list(BENCHMARKS), {}))
        print(table(list(BENCHMARKS), {}))
        return 0
    names = argv or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmarks {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    outcomes = {name: run(name) for name in names}
    write_readme(table(list(BENCHMARKS), outcomes))
    print(table(names, outcomes))
    return 0 if all(code == 0 for code, _ in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

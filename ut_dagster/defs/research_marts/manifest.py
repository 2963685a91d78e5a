"""Where the dbt project lives, and how its manifest.json is prepared before Dagster loads it.

`@dbt_assets` builds the asset graph from dbt_project/target/manifest.json when ut_dagster.defs.research_marts.dbt
is imported, so the manifest must exist (and be current) before the code location loads: the
install step, CI and the test session prepare it, never a user's first `dagster dev`.

    python -m ut_dagster.defs.research_marts.manifest prepare          # dbt parse, unless the manifest is current
    python -m ut_dagster.defs.research_marts.manifest prepare --force  # dbt parse regardless

This module imports neither Dagster nor dbt (the parse runs in a subprocess), so calling it from a
Makefile or a pytest hook costs nothing when the manifest is already current.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# Parsing needs a profile target but no connection. The DuckDB target needs no credentials, and
# what the manifest gives Dagster (asset keys, lineage, tests as checks) is the same for both
# targets; `dbt build` re-parses with the real target at run time anyway.
PARSE_TARGET = "duckdb"
# Build output, logs and installed packages; everything else in the project is parse input.
_NOT_PARSE_INPUT = {"target", "logs", "dbt_packages"}


def dbt_executable() -> str:
    """The `dbt` installed beside this interpreter (a venv's bin/ is often not on PATH), else PATH's."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _parse_inputs(project_dir: Path) -> list[Path]:
    files: list[Path] = []
    for path in project_dir.iterdir():
        if path.name in _NOT_PARSE_INPUT or path.name.startswith("."):
            continue
        files.extend(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    return files


def manifest_is_current(project_dir: Path = DBT_PROJECT_DIR, manifest: Path = MANIFEST_PATH) -> bool:
    """Whether the manifest exists and is newer than every file dbt parses."""
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in _parse_inputs(project_dir))


def prepare_manifest(force: bool = False, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run `dbt parse` unless the manifest is current; return the manifest's path.

    A file lock serialises concurrent callers (pytest-xdist workers, parallel make jobs): whoever
    waited finds the manifest current and returns without parsing again.
    """
    manifest = project_dir / "target" / "manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(manifest.with_suffix(".lock")), timeout=300):
        if force or not manifest_is_current(project_dir, manifest):
            _dbt_parse(project_dir)
    return manifest


def _dbt_parse(project_dir: Path) -> None:
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Whatever a shell exported for dbt runs must not redirect this parse's output.
        "DBT_TARGET_PATH": str(project_dir / "target"),
        "DBT_LOG_PATH": str(project_dir / "logs"),
    }
    command = [
        dbt_executable(),
        "parse",
        "--quiet",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target",
        PARSE_TARGET,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"`dbt parse` of {project_dir} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ut_dagster.defs.research_marts.manifest")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="write dbt_project/target/manifest.json (dbt parse)")
    prepare.add_argument("--force", action="store_true", help="parse even if the manifest is current")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        print(f"dbt manifest ready: {prepare_manifest(force=args.force)}")


if __name__ == "__main__":
    main()

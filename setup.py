"""Build hook: a wheel carries the dbt project, parsed, as package data (ut_dagster/dbt_project/),
and the project's dg settings (ut_dagster/dg.toml).

dbt_project/ at the repository root is the one source; the wheel gets a copy with a manifest.json
made at build time (dagster-dbt's "prepare and package", done here so that a plain `pip install .`
or `uv build` produces a wheel that loads anywhere). Editable installs use dbt_project/ in place.
`load_from_defs_folder` reads the project's root module from the nearest dg.toml or pyproject.toml
above ut_dagster/definitions.py; an installed wheel has no pyproject.toml, so it gets a dg.toml made
from [tool.dg.project]. It also carries the dbt component's empty defs-state folder (see
DEFS_STATE). Everything else about the package is in pyproject.toml.
"""

import json
import shutil
import tempfile
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "dbt_project"
# Build output and installed packages, never package data.
NOT_PACKAGED = ("target", "logs", "dbt_packages", ".*")
# Parsing needs a profile target but no connection; the manifest is the same for both targets and
# `dbt build` re-parses with the real target at run time.
PARSE_TARGET = "duckdb"
# Dagster makes `defs/.local_defs_state/<component state key>/` (and a .gitignore) in the package on
# every load of a component whose state lives on the local filesystem, as the dbt component's does
# (dagster/components/utils/project_paths.py). Where site-packages is read-only to the user running
# Dagster (a container's non-root user), that write fails the code location's load. Shipped, the
# folders are found and a load writes nothing; only `dg`, which prepares the state, writes there.
# The folder name is the component's state key, sanitized: test_install_wheel.py fails if it drifts.
DEFS_STATE = Path("defs") / ".local_defs_state"
DBT_STATE_KEY_DIR = "DbtProjectComponent__dbt_project__"


class BuildPyWithDbtProject(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        package = Path(self.build_lib).resolve() / "ut_dagster"
        packaged = package / "dbt_project"
        shutil.rmtree(packaged, ignore_errors=True)
        shutil.copytree(SOURCE, packaged, ignore=shutil.ignore_patterns(*NOT_PACKAGED))
        _parse(packaged)
        (package / "dg.toml").write_text(_dg_toml(), encoding="utf-8")
        _defs_state_folders(package / DEFS_STATE)


def _dg_toml() -> str:
    """pyproject.toml's [tool.dg.project] as a dg.toml (its settings are strings)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["dg"]["project"]
    lines = [f"{key} = {json.dumps(value)}" for key, value in project.items()]
    header = "# Made from pyproject.toml's [tool.dg.project] by setup.py.\n"
    return header + 'directory_type = "project"\n\n[project]\n' + "\n".join(lines) + "\n"


def _defs_state_folders(state: Path) -> None:
    (state / DBT_STATE_KEY_DIR).mkdir(parents=True, exist_ok=True)
    (state / ".gitignore").write_text("*\n*/\n.*", encoding="utf-8")  # as Dagster writes it
    (state / DBT_STATE_KEY_DIR / ".keep").write_text("", encoding="utf-8")  # a wheel keeps no empty folder


def _parse(project_dir: Path) -> None:
    """`dbt parse` in process, writing target/manifest.json inside the packaged project."""
    from dbt.cli.main import dbtRunner

    with tempfile.TemporaryDirectory() as logs:
        result = dbtRunner().invoke(
            [
                "parse",
                "--quiet",
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(project_dir),
                "--target",
                PARSE_TARGET,
                "--target-path",
                str(project_dir / "target"),
                "--log-path",
                logs,
                "--no-send-anonymous-usage-stats",
            ]
        )
    if not result.success:
        raise SystemExit(f"`dbt parse` of the packaged dbt project failed: {result.exception}")
    # It records absolute paths of this build directory; dbt re-parses where it is installed.
    (project_dir / "target" / "partial_parse.msgpack").unlink(missing_ok=True)


setup(cmdclass={"build_py": BuildPyWithDbtProject})

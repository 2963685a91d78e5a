"""Where the dbt project and dbt are, and whether the project needs parsing again."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from dagster_dbt import DbtProject

_HERE = Path(__file__).resolve()
# A checkout (or an editable install) uses the repository's dbt_project/; a wheel carries a parsed
# copy as package data (setup.py puts it there at build time).
CHECKOUT_PROJECT_DIR = _HERE.parents[3] / "dbt_project"
PACKAGED_PROJECT_DIR = _HERE.parents[2] / "dbt_project"


def dbt_project_dir() -> Path:
    """Where the dbt project of this installation is: the checkout's, else the packaged copy."""
    if (CHECKOUT_PROJECT_DIR / "dbt_project.yml").exists():
        return CHECKOUT_PROJECT_DIR
    if (PACKAGED_PROJECT_DIR / "dbt_project.yml").exists():
        return PACKAGED_PROJECT_DIR
    raise FileNotFoundError(
        f"No dbt project at {CHECKOUT_PROJECT_DIR} nor {PACKAGED_PROJECT_DIR}: install ut-dagster from a "
        "wheel or a checkout (`pip install .`), not by copying the ut_dagster folder."
    )


def dbt_executable() -> str:
    """The `dbt` installed beside this interpreter, else `dbt` from PATH.

    `dg dev`, `dagster dev`, the daemon and run workers run this interpreter, but a virtualenv's
    bin/ is on PATH only when it is activated.
    """
    beside = Path(sysconfig.get_path("scripts")) / "dbt"
    return str(beside) if beside.exists() else "dbt"


def manifest_outdated(project: DbtProject) -> bool:
    """Whether the manifest is missing or older than a file or folder of the dbt project.

    The rule `make install` applies too; a folder's time changes when a file in it is added,
    removed or renamed. dbt's own output (target/, logs/, installed packages) is not an input.
    """
    if not project.manifest_path.exists():
        return True
    written = project.manifest_path.stat().st_mtime
    outputs = {project.project_dir / project.target_path, project.project_dir / "logs"}
    outputs |= {project.project_dir / "dbt_packages"}
    for folder, subfolders, files in os.walk(project.project_dir):
        subfolders[:] = [name for name in subfolders if Path(folder, name) not in outputs]
        paths = [Path(folder), *(Path(folder, name) for name in files)]
        if any(path.stat().st_mtime > written for path in paths):
            return True
    return False

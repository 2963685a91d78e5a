"""`dg check defs` (what `dg dev` loads) on this project, with the virtualenv not activated.

It runs on a copy of the project, because `dg` prepares dbt's manifest (dbt parse) on every load,
and the checkout's manifest is read by other tests meanwhile. The copy's folder is named `main`, as
a checkout may be: the code location must not be named after it (sensor and schedule toggles are
kept per code location name, so a renamed folder would silently turn them off).
"""

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from ut_dagster_tests.install.commands import run_command

REPO = Path(__file__).resolve().parents[2]


CODE_LOCATION = "ut_dagster"


def _locations(output: str) -> list[str]:
    """The code locations `dagster definitions validate` (also under `dg check defs`) loaded."""
    return re.findall(r"Validation successful for code location (\S+)\.$", output, re.MULTILINE)


def _project_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the project in a folder named `main`, and the environment of a plain shell."""
    project = tmp_path / "main"
    project.mkdir()
    shutil.copy2(REPO / "pyproject.toml", project)
    shutil.copy2(REPO / "workspace.yaml", project)
    ignore = shutil.ignore_patterns("__pycache__", "target", "logs", "dbt_packages")
    for name in ("ut_dagster", "dbt_project"):
        shutil.copytree(REPO / name, project / name, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DAGSTER_HOME")}
    # No virtualenv bin/ on PATH, as for `.venv/bin/dg` run from a shell that did not activate it.
    # The copy's package before this checkout's editable install: `dg check defs` imports the
    # component types of defs.yaml in its own process, then loads the definitions there too.
    env.update({"PATH": "/usr/bin:/bin", "UT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(project)})
    return project, env


# dg, dbt parse and the definitions load: half a minute alone, far more on a shared 2-core CI host.
@pytest.mark.timeout(900)
def test_dg_check_defs_loads_the_definitions_and_prepares_dbt(tmp_path: Path) -> None:
    project, env = _project_copy(tmp_path)

    # `dg check defs` loads the workspace `dg dev` would serve, location names included.
    result = run_command(
        [Path(sys.executable).with_name("dg"), "check", "defs", "--log-level", "info"], project, env
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All definitions loaded successfully" in output
    assert _locations(output) == [CODE_LOCATION]
    # The copy was loaded, and dagster-dbt's preparation parsed its dbt project there.
    assert (project / "dbt_project" / "target" / "manifest.json").exists()

    # `dg list defs` names each definition's source: the sync is the integration's component
    # declared in defs/usertesting/defs.yaml, the marts the dbt component.
    listed = run_command([Path(sys.executable).with_name("dg"), "list", "defs", "--json"], project, env)
    assert listed.returncode == 0, listed.stderr
    defs = json.loads(listed.stdout)
    sources = {sensor["name"]: sensor["source"].split(":")[0] for sensor in defs["sensors"]}
    assert sources["usertesting_new_sessions"] == "ut_dagster/defs/usertesting/defs.yaml"
    assert sources["research_marts_automation"] == "ut_dagster/defs/research_marts/defs.yaml"
    tasks = next(a for a in defs["assets"] if a["asset_key"] == "usertesting/tasks")
    assert {"usertesting", "duckdb"} <= set(tasks["kinds"])


@pytest.mark.timeout(900)
def test_dagster_dev_with_the_workspace_file_names_the_code_location_as_dg_dev_does(tmp_path: Path) -> None:
    project, env = _project_copy(tmp_path)
    # What `dagster dev` in the checkout loads (workspace.yaml, named or found in the folder).
    for args in (["-w", "workspace.yaml"], []):
        result = run_command(
            [Path(sys.executable).with_name("dagster"), "definitions", "validate", *args], project, env
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert _locations(output) == [CODE_LOCATION], args

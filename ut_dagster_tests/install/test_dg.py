"""`dg check defs` (what `dg dev` loads) on this project, with the virtualenv not activated.

It runs on a copy of the project, because `dg` prepares dbt's manifest (dbt parse) on every load,
and the checkout's manifest is read by other tests meanwhile.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# dg, dbt parse and the definitions load: half a minute alone, far more on a shared 2-core CI host.
@pytest.mark.timeout(900)
def test_dg_check_defs_loads_the_definitions_and_prepares_dbt(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(REPO / "pyproject.toml", project)
    ignore = shutil.ignore_patterns("__pycache__", "target", "logs", "dbt_packages")
    for name in ("ut_dagster", "dbt_project"):
        shutil.copytree(REPO / name, project / name, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DAGSTER_HOME")}
    # No virtualenv bin/ on PATH, as for `.venv/bin/dg` run from a shell that did not activate it.
    env.update({"PATH": "/usr/bin:/bin", "UT_DATA_DIR": str(tmp_path / "data")})

    result = subprocess.run(
        [Path(sys.executable).with_name("dg"), "check", "defs"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All definitions loaded successfully" in output
    # The copy was loaded, and dagster-dbt's preparation parsed its dbt project there.
    assert (project / "dbt_project" / "target" / "manifest.json").exists()

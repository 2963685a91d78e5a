"""Under `dg dev`, loading the definitions parses the dbt project again only after it changed.

dagster-dbt's own `prepare_if_dev` parses on every load, and `dg dev` hands its flag to every run
worker: each run spent seconds in `dbt parse`. The rule is `make install`'s: the manifest is outdated
when a file or folder of the project is newer; dbt's own output does not count.
"""

import os
import shutil
from pathlib import Path

from dagster_dbt import DbtProject

from ut_dagster.defs.research_marts.project import dbt_project_dir, manifest_outdated


def _project(tmp_path: Path) -> tuple[DbtProject, float]:
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages")
    root = shutil.copytree(dbt_project_dir(), tmp_path / "dbt_project", ignore=ignore)
    manifest = root / "target" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text("{}")
    written = manifest.stat().st_mtime
    for path in [root, *root.rglob("*")]:  # every input older than the manifest
        os.utime(path, (written - 60, written - 60))
    return DbtProject(project_dir=root), written


def _later(path: Path, written: float) -> None:
    os.utime(path, (written + 1, written + 1))


def test_an_unchanged_project_is_not_parsed_again(tmp_path: Path) -> None:
    project, written = _project(tmp_path)
    assert not manifest_outdated(project)
    # What dbt writes as it runs (logs, run artefacts, installed packages) is no edit.
    for output in ("logs/dbt.log", "target/run_results.json", "dbt_packages/x/dbt_project.yml"):
        path = project.project_dir / output
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        _later(path, written)
        _later(path.parent, written)
    os.utime(project.project_dir, (written - 60, written - 60))  # the folders above were created
    assert not manifest_outdated(project)


def test_an_edited_added_or_removed_model_is_parsed_again(tmp_path: Path) -> None:
    project, written = _project(tmp_path)
    model = next(project.project_dir.joinpath("models").rglob("*.sql"))
    _later(model, written)
    assert manifest_outdated(project)

    project, written = _project(tmp_path / "removed")
    model = next(project.project_dir.joinpath("models").rglob("*.sql"))
    model.unlink()
    _later(model.parent, written)
    assert manifest_outdated(project)

    project, _ = _project(tmp_path / "missing")
    project.manifest_path.unlink()
    assert manifest_outdated(project)

"""`ut-dagster dg-project DIR`: what it writes, and what it refuses to overwrite.

That dg then serves the installed package from the folder is proved on a real wheel
(install/test_install_wheel.py); here, the folder itself, through the command's entry point.
"""

from pathlib import Path

import pytest

from ut_dagster.cli.dg_project import DG_TOML, installed_defs_folder, write_dg_project
from ut_dagster.cli.main import main


def _tree(folder: Path) -> dict[str, str]:
    """Every entry under `folder`: a file's text, a link's target."""
    return {
        str(p.relative_to(folder)): str(p.readlink())
        if p.is_symlink()
        else p.read_text()
        if p.is_file()
        else "/"
        for p in sorted(folder.rglob("*"))
    }


def test_the_folder_holds_the_dg_settings_and_a_link_to_the_installed_defs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "ut"
    assert main(["dg-project", str(project)]) == 0
    assert _tree(project) == {
        "dg.toml": DG_TOML,
        "ut_dagster": "/",
        "ut_dagster/defs": str(installed_defs_folder()),
    }
    assert 'root_module = "ut_dagster"' in DG_TOML and 'code_location_name = "ut_dagster"' in DG_TOML
    # No __init__.py: Python imports the installed package, never this folder.
    assert not (project / "ut_dagster" / "__init__.py").exists()
    assert "dg dev" in capsys.readouterr().out

    assert main(["dg-project", str(project)]) == 0  # again: nothing changes
    assert _tree(project)["ut_dagster/defs"] == str(installed_defs_folder())


def test_a_second_run_follows_an_installation_that_moved(tmp_path: Path) -> None:
    old, new = tmp_path / "old" / "defs", tmp_path / "new" / "defs"
    old.mkdir(parents=True)
    new.mkdir(parents=True)
    project = tmp_path / "ut"
    write_dg_project(project, old)
    write_dg_project(project, new)
    assert (project / "ut_dagster" / "defs").readlink() == new


@pytest.mark.parametrize(
    "existing",
    [
        pytest.param({"dg.toml": 'directory_type = "project"\n'}, id="another dg.toml"),
        pytest.param({"ut_dagster/__init__.py": "", "ut_dagster/defs/x.py": ""}, id="a ut_dagster checkout"),
        pytest.param({"ut_dagster/defs": "not a link"}, id="a file where the link goes"),
    ],
)
def test_someone_else_s_project_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], existing: dict[str, str]
) -> None:
    project = tmp_path / "ut"
    for name, text in existing.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    before = _tree(project)
    assert main(["dg-project", str(project)]) == 2
    assert _tree(project) == before
    assert "Choose an empty or new folder" in capsys.readouterr().err


def test_a_link_named_ut_dagster_is_not_followed_into(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    project = tmp_path / "ut"
    project.mkdir()
    (project / "ut_dagster").symlink_to(checkout, target_is_directory=True)
    assert main(["dg-project", str(project)]) == 2
    assert list(checkout.iterdir()) == [] and not (project / "dg.toml").exists()


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ut"
    path.write_text("mine")
    assert main(["dg-project", str(path)]) == 2
    assert path.read_text() == "mine"

"""`ut-dagster dg-project DIR`: a folder from which `dg` serves the installed ut_dagster package.

dg finds a project's code by path, not by import: it wants `<folder>/ut_dagster` beside the folder's
dg.toml (dagster-dg-core 1.13, `DgContext.get_path_for_local_module`), and an installed wheel
(site-packages) has no such folder. The one written here holds:

- dg.toml: the project's dg settings (root module, code location name), as the wheel's own;
- ut_dagster/defs: a link to the installed package's defs folder, whose YAML `dg check defs` checks.

ut_dagster/ has no __init__.py, so Python never imports it: the code server dg starts imports the
installed package (a regular package anywhere on sys.path wins over a folder without one), and every
path Dagster sees is the package's own. A link to the whole package would be imported from the folder
instead, and Dagster 1.13 resolves some of its paths through such a link and others not, then fails
to relate them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ut_dagster
from ut_dagster.cli.code_location import CODE_LOCATION_NAME

ROOT_MODULE = ut_dagster.__name__
DG_TOML = (
    "# Written by `ut-dagster dg-project`: dg serves the installed ut_dagster package from here.\n"
    'directory_type = "project"\n\n'
    "[project]\n"
    f'root_module = "{ROOT_MODULE}"\n'
    f'code_location_name = "{CODE_LOCATION_NAME}"\n'
)


class DgProjectError(Exception):
    """The folder holds something else where the dg project goes; nothing was changed."""


def installed_defs_folder() -> Path:
    """The defs folder of the ut_dagster package this interpreter imports."""
    return Path(ut_dagster.__file__).parent / "defs"


def write_dg_project(folder: Path, defs_folder: Path | None = None) -> None:
    """Make `folder` a dg project of the installed package; again is a no-op, or follows a moved install.

    Refuses, before writing anything, when `folder` holds another dg.toml or another ut_dagster/:
    those are someone's project, not ours to overwrite.
    """
    defs_folder = defs_folder or installed_defs_folder()
    toml, package = folder / "dg.toml", folder / ROOT_MODULE
    link = package / "defs"
    if folder.exists() and not folder.is_dir():
        raise DgProjectError(f"{folder} is a file.")
    if toml.exists() and toml.read_text(encoding="utf-8") != DG_TOML:
        raise DgProjectError(f"{toml} exists and was not written by `ut-dagster dg-project`.")
    if os.path.lexists(package) and not _ours(package):
        raise DgProjectError(f"{package} exists and is not the folder `ut-dagster dg-project` writes.")
    package.mkdir(parents=True, exist_ok=True)
    toml.write_text(DG_TOML, encoding="utf-8")
    if link.is_symlink():
        link.unlink()  # our own link, from an earlier run: it may point at a moved installation
    link.symlink_to(defs_folder, target_is_directory=True)


def _ours(package: Path) -> bool:
    """Whether `package` is a folder holding at most our link (a real folder, not a link to one)."""
    if package.is_symlink() or not package.is_dir():
        return False
    return all(entry.name == "defs" and entry.is_symlink() for entry in package.iterdir())


def run_dg_project(folder: Path) -> int:
    try:
        write_dg_project(folder)
    except DgProjectError as exc:
        print(f"error: {exc} Choose an empty or new folder.", file=sys.stderr)
        return 2
    print(
        f"{folder} is a dg project of {installed_defs_folder().parent}: run `dg dev` or `dg check defs` there."
    )
    return 0

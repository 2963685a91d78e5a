"""ut-dagster as a user installs it: a wheel in a fresh virtualenv, used from another directory.

The wheel is built from a copy of the sources (nothing is left in the checkout) by `uv build`, as
`pip install .` would build it. The new virtualenv borrows this environment's dependencies through a
.pth file instead of installing them again, which would take minutes: what is under test is the
package itself (its files, its dbt project, its entry point), not the resolver.
"""

import json
import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dagster_usertesting.testing import SandboxServer
from ut_dagster_tests.install.commands import run_command
from ut_dagster_tests.webserver import free_port, serving

REPO = Path(__file__).resolve().parents[2]
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "ut_dagster",
    "dbt_project",
    "integrations",
)
BUILD_TIMEOUT_SECONDS = 600
# A build, a virtualenv and two cold starts of Dagster: a minute alone, far more on a shared CI host.
pytestmark = pytest.mark.timeout(900)


def _uv(*args: str | Path) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    result = subprocess.run(
        [uv, *map(str, args)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, f"uv {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the bin/ directory of a virtualenv where only it and the integration's are installed)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "target", "logs", "dbt_packages", "*.egg-info", "build")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    _uv("build", "--wheel", "--out-dir", root / "dist", source)
    _uv("build", "--wheel", "--out-dir", root / "dist", source / "integrations" / "dagster-usertesting")
    wheel = next((root / "dist").glob("ut_dagster-*.whl"))
    integration_wheel = next((root / "dist").glob("dagster_usertesting-*.whl"))

    venv = root / "venv"
    _uv("venv", "--python", sys.executable, venv)
    venv_python = venv / "bin" / "python"
    purelib = subprocess.run(
        [venv_python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies from this environment, after the venv's own site-packages (plain paths in a .pth
    # are appended to sys.path; this environment's editable install of ut_dagster is not loaded).
    (Path(purelib) / "borrowed_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    # The `dbt` script an installation of dbt-core puts beside the interpreter.
    dbt = venv / "bin" / "dbt"
    dbt.write_text(f"#!{venv_python}\nfrom dbt.cli.main import cli\n\ncli()\n")
    dbt.chmod(0o755)
    # ... and the `dg` script of dagster-dg-cli.
    dg = venv / "bin" / "dg"
    dg.write_text(f"#!{venv_python}\nfrom dagster_dg_cli.cli import main\n\nmain()\n")
    dg.chmod(0o755)
    _uv("pip", "install", "--python", venv_python, "--no-deps", wheel, integration_wheel)
    return wheel, venv / "bin"


def test_the_wheel_holds_the_package_and_its_parsed_dbt_project_only(
    wheel_install: tuple[Path, Path],
) -> None:
    wheel, _ = wheel_install
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"ut_dagster", "ut_dagster-0.1.0.dist-info"}
    assert "ut_dagster/dbt_project/dbt_project.yml" in names
    assert "ut_dagster/dbt_project/models/marts/task_metrics.sql" in names
    assert "ut_dagster/dbt_project/target/manifest.json" in names
    # The dbt component's defs-state folder, so that a load writes nothing into the package.
    assert "ut_dagster/defs/.local_defs_state/.gitignore" in names
    assert not [n for n in names if n.endswith("/state") and ".local_defs_state" in n]  # no state itself
    assert not [n for n in names if "partial_parse" in n or "/logs/" in n or "__pycache__" in n]


def _clean_env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DAGSTER_HOME")}
    env.update({"UT_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin", **(extra or {})})
    return env


def test_definitions_load_from_another_directory(wheel_install: tuple[Path, Path], tmp_path: Path) -> None:
    _, bin_dir = wheel_install
    script = (
        "import json, ut_dagster\n"
        "from ut_dagster.definitions import defs\n"
        "from ut_dagster.defs.research_marts.project import dbt_project_dir\n"
        "graph = defs.resolve_asset_graph()\n"
        "print(json.dumps({'package': ut_dagster.__file__, 'dbt_project': str(dbt_project_dir()),\n"
        "    'marts': sorted(k.path[1] for k in graph.get_all_asset_keys() if k.path[0] == 'usertesting_marts')}))\n"
    )
    package = next(bin_dir.parent.glob("lib/python*/site-packages/ut_dagster"))
    before = _files(package)
    result = run_command([bin_dir / "python", "-c", script], tmp_path, _clean_env(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    installed = bin_dir.parent
    assert Path(loaded["package"]).is_relative_to(installed)
    assert Path(loaded["dbt_project"]).is_relative_to(installed)
    assert "task_metrics" in loaded["marts"]
    # Loading writes nothing into the installed package (dbt not re-parsed, no component state
    # folder made): a container's site-packages is often read-only to the user that runs Dagster,
    # and a write there fails the code location's load.
    assert _files(package) == before


def _files(package: Path) -> dict[str, float]:
    """Every file and folder of an installed package with its modification time, bytecode caches aside
    (Python writes those where it can and skips them where it cannot)."""
    return {
        str(path.relative_to(package)): path.stat().st_mtime
        for path in package.rglob("*")
        if "__pycache__" not in path.parts
    }


def test_ut_dagster_sync_runs_from_the_installed_entry_point(
    wheel_install: tuple[Path, Path],
    tmp_path: Path,
    start_sandbox: Callable[..., SandboxServer],
    cli_env: Callable[[SandboxServer], dict[str, str]],
) -> None:
    _, bin_dir = wheel_install
    sandbox = start_sandbox()
    test_id = sandbox.test_ids[0]
    env = cli_env(sandbox)
    env = _clean_env(
        tmp_path, {k: v for k, v in env.items() if k.startswith(("USERTESTING_", "UT_", "DAGSTER"))}
    )
    result = run_command([bin_dir / "ut-dagster", "sync", test_id], tmp_path, env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "usertesting/raw_sessions" in result.stdout
    assert (Path(env["UT_DATA_DIR"]) / "warehouse.duckdb").exists()


def test_the_installed_wheel_served_with_the_workspace_file_is_the_ut_dagster_code_location(
    wheel_install: tuple[Path, Path], tmp_path: Path
) -> None:
    # README: with an installed wheel and no checkout, `dagster dev -w workspace.yaml` with the
    # checkout's workspace file names the location as `dg dev` and `make dev` do, so sensor and
    # schedule toggles (kept per location name) carry over.
    _, bin_dir = wheel_install
    shutil.copy2(REPO / "workspace.yaml", tmp_path / "workspace.yaml")
    validate = [bin_dir / "python", "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"]
    result = run_command(validate, tmp_path, _clean_env(tmp_path), timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.findall(r"Validation successful for code location (\S+)\.$", output, re.MULTILINE) == [
        "ut_dagster"
    ]


def test_dg_check_list_and_dev_serve_the_installed_package_from_a_dg_project_folder(
    wheel_install: tuple[Path, Path], tmp_path: Path
) -> None:
    # Last in this module: dg prepares the dbt component's state in the installed package (left as
    # is; the definitions load above asserts a plain import does not).
    _, bin_dir = wheel_install
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = _clean_env(tmp_path, {"PATH": f"{bin_dir}:/usr/bin:/bin", "DAGSTER_HOME": str(home)})
    project = tmp_path / "ut"

    made = run_command([bin_dir / "ut-dagster", "dg-project", project], tmp_path, env)
    assert made.returncode == 0, made.stderr
    # The folder points at the installed package: dg has no other copy to load.
    assert (project / "ut_dagster" / "defs").resolve().is_relative_to(bin_dir.parent)

    checked = run_command([bin_dir / "dg", "check", "defs", "--log-level", "info"], project, env)
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert "All definitions loaded successfully" in output
    assert re.findall(r"Validation successful for code location (\S+)\.$", output, re.MULTILINE) == [
        "ut_dagster"
    ]

    listed = run_command([bin_dir / "dg", "list", "defs", "--json"], project, env)
    assert listed.returncode == 0, listed.stderr
    defs = json.loads(listed.stdout)
    assert {"usertesting_new_sessions", "research_marts_automation"} <= {s["name"] for s in defs["sensors"]}
    assert "usertesting/tasks" in {asset["asset_key"] for asset in defs["assets"]}
    assert "research_marts" in {job["name"] for job in defs["jobs"]}

    port = free_port()
    dev = [bin_dir / "dg", "dev", "--host", "127.0.0.1", "--port", str(port)]
    with serving(dev, port, project, env, tmp_path / "dg_dev.log") as web:
        data = web.query(
            "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { "
            "... on RepositoryLocation { repositories { jobs { name } } } } } } } }"
        )
    (entry,) = data["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "ut_dagster"
    jobs = {job["name"] for repo in entry["locationOrLoadError"]["repositories"] for job in repo["jobs"]}
    assert {"usertesting_sync", "research_marts"} <= jobs

"""The research marts: the dbt project in dbt_project/ as Dagster assets.

Every dbt model is an asset keyed by its schema and name (`usertesting_marts/task_metrics`); every
dbt source table is the sync asset of the same name (`usertesting/tasks`), because the source is
named after the schema. Every dbt test is an asset check on the model it tests, blocking when its
severity is error.

Marts follow syncs by declarative automation rather than as a step of the (per-test partitioned)
sync job: each model is requested once anything upstream was updated and nothing upstream is still
in progress, at most once per UT_MARTS_MIN_INTERVAL_MINUTES (automation.py), so the syncs of several
tests end in one `dbt build`.
"""

# No `from __future__ import annotations`: Dagster inspects the asset function's context annotation.
import os
import sysconfig
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    define_asset_job,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.asset_utils import default_description_fn

from ut_dagster.defs.research_marts.automation import EAGER_ALLOW_MISSING
from ut_dagster.defs.research_marts.column_types import with_warehouse_types

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


def _put_dbt_on_path() -> None:
    """Make the `dbt` installed beside this interpreter the one on PATH.

    `dagster dev`, `dg` and Dagster's run workers run this interpreter, but a virtualenv's bin/ is
    on PATH only when it is activated, and dagster-dbt (its project preparation included) runs
    `dbt` from PATH.
    """
    scripts = sysconfig.get_path("scripts")
    path = os.environ.get("PATH", "")
    if (Path(scripts) / "dbt").exists() and scripts not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(p for p in (scripts, path) if p)


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


_put_dbt_on_path()
DBT_PROJECT = DbtProject(project_dir=dbt_project_dir())
# Under `dg dev` / `dagster dev`, parse again after a model edit so it shows on reload. Not
# `prepare_if_dev()`, which parses on every load: `dg dev` passes its flag on to the code server,
# the daemon and every run worker, so each run spent ~12 s of CPU in `dbt parse` before starting.
# A checkout that was never prepared (`pip install -e .` and straight to `ut-dagster sync`) is
# prepared here too; a wheel carries its manifest, and `make install` prepares it.
if not DBT_PROJECT.manifest_path.exists() or (
    DBT_PROJECT.preparer.using_dagster_dev() and manifest_outdated(DBT_PROJECT)
):
    DBT_PROJECT.preparer.prepare(DBT_PROJECT)


class ResearchMartsTranslator(DagsterDbtTranslator):
    """dagster-dbt's defaults (asset keys, groups, checks) plus when each model runs.

    Descriptions are the dbt ones, without the raw SQL dagster-dbt appends by default (the UI
    shows the code elsewhere), and a dbt test's `description` becomes its check's description.
    """

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> AutomationCondition | None:
        # After every change; the code location spaces builds out (UT_MARTS_MIN_INTERVAL_MINUTES).
        return EAGER_ALLOW_MISSING

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return default_description_fn(dbt_resource_props, display_raw_sql=False)

    def get_asset_check_spec(
        self, asset_spec: Any, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        description = manifest["nodes"].get(unique_id, {}).get("description")
        if spec is None or spec.description or not description:
            return spec
        return spec._replace(description=description)


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    dagster_dbt_translator=ResearchMartsTranslator(),
    name="usertesting_dbt",
)
def usertesting_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """Build the selected models and run their tests (`dbt build`), reporting tests as checks.

    Each materialization records the table's row count and its column names and types as the
    warehouse reports them.
    """
    invocation = dbt.cli(["build"], context=context)
    events = invocation.stream().fetch_row_counts().fetch_column_metadata(with_column_lineage=False)
    # The target as profiles.yml picks it when the resource names none.
    target = dbt.target or os.environ.get("UT_WAREHOUSE", "duckdb")
    yield from with_warehouse_types(events, target)


RESEARCH_MARTS_JOB_NAME = "research_marts"
research_marts_job = define_asset_job(
    RESEARCH_MARTS_JOB_NAME,
    selection=AssetSelection.assets(usertesting_dbt_assets),
    description="`dbt build` of every research mart and its tests, then the research alerts: what "
    "the automation sensor runs after syncs, for a rebuild by hand.",
)

# Dagster's implicit default_automation_condition_sensor starts STOPPED; this one starts running,
# so marts follow syncs on a fresh deployment without a click in the UI.
research_marts_automation_sensor = AutomationConditionSensorDefinition(
    "research_marts_automation",
    target=AssetSelection.assets(usertesting_dbt_assets),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Runs `dbt build` of the research marts after syncs update the raw usertesting tables.",
)

"""The research marts: the dbt project in dbt_project/ as Dagster assets.

Every dbt model is an asset keyed by its schema and name (`usertesting_staging/stg_tasks`,
`usertesting_marts/task_metrics`); every dbt source table is the sync asset of the same name
(`usertesting/tasks`), because the source is named after the schema. Every dbt test is an asset
check on the model it tests (dagster-dbt's default), blocking when its severity is error.

How dbt runs after a sync: declarative automation, not a step of the sync job. Each model carries
an eager-like AutomationCondition: it is requested when any upstream asset (a `usertesting/*`
table or another model) has been updated since the model last ran, once nothing upstream is still
in progress. One sync run of a test therefore triggers one `dbt build` of exactly the models
downstream of what it wrote, with their tests riding along; syncs of several tests running at once
end in one dbt run after the last of them. The sync job stays a per-test partitioned job, while the
marts are unpartitioned (they span all tests), so a separate run is the natural seam; it also
means a manual materialization of marts in the UI does the same thing automation does.

Unlike `AutomationCondition.eager()`, missing upstream assets do not block: `usertesting/
session_videos` is only written by the optional video job, and one test partition never synced
would otherwise hold back every mart. dbt copes with an absent raw table (macro source_or_empty).
Conditions are evaluated by `research_marts_automation_sensor` below, which starts running (the
implicit default automation sensor would start stopped): add it to the Definitions' sensors.
"""

# No `from __future__ import annotations`: Dagster inspects the asset function's context annotation.
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets

from ut_dagster.defs.research_marts.manifest import (
    DBT_PROJECT_DIR,
    dbt_executable,
    manifest_is_current,
    prepare_manifest,
)

logger = logging.getLogger(__name__)

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR)
if os.getenv("DAGSTER_IS_DEV_CLI"):
    # Under `dagster dev`, model edits show up on reload. Not DbtProject.prepare_if_dev(): it runs
    # the `dbt` on PATH, and a venv's bin/ often is not (`make dev` runs .venv/bin/dagster).
    prepare_manifest()
elif not DBT_PROJECT.manifest_path.exists():
    raise FileNotFoundError(
        f"{DBT_PROJECT.manifest_path} is missing: run `python -m ut_dagster.defs.research_marts.manifest prepare` "
        "(the Makefile's install step does) before loading the Dagster definitions."
    )
elif not manifest_is_current():
    logger.warning(
        "dbt_project/ changed after %s was written: the Dagster asset graph may be out of date; "
        "run `python -m ut_dagster.defs.research_marts.manifest prepare`.",
        DBT_PROJECT.manifest_path,
    )

DBT_AUTOMATION_CONDITION = (
    AutomationCondition.eager()
    .without(~AutomationCondition.any_deps_missing())
    .with_label("eager_allow_missing")
)


class ResearchMartsTranslator(DagsterDbtTranslator):
    """dagster-dbt's defaults (asset keys, groups, checks) plus when each model runs."""

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> AutomationCondition | None:
        return DBT_AUTOMATION_CONDITION


class WarehouseDbtCliResource(DbtCliResource):
    """DbtCliResource that tells dbt which DuckDB file to use (ignored by the Snowflake target).

    The path travels as the dbt var `duckdb_path`, which profiles.yml prefers over UT_DUCKDB_PATH,
    so dbt builds from exactly the file the sync's IO manager writes, whatever the working
    directory or environment of the run.
    """

    duckdb_path: str | None = None

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        if self.duckdb_path:
            args = [*args, "--vars", json.dumps({"duckdb_path": self.duckdb_path})]
        return super().cli(args, **kwargs)


def dbt_resource(target: str, duckdb_path: str | Path | None = None) -> WarehouseDbtCliResource:
    """The `dbt` resource for a target of dbt_project/profiles.yml: "duckdb" or "snowflake".

    `duckdb_path` is the DuckDB file the sync writes (Settings.duckdb_path); without it dbt falls
    back to UT_DUCKDB_PATH, then to ../.ut_data/warehouse.duckdb relative to dbt_project/.
    """
    return WarehouseDbtCliResource(
        project_dir=DBT_PROJECT,
        target=target,
        dbt_executable=dbt_executable(),
        duckdb_path=str(Path(duckdb_path).resolve()) if duckdb_path else None,
    )


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=ResearchMartsTranslator(),
    name="usertesting_dbt",
)
def usertesting_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """Build the selected models and run their tests (`dbt build`), reporting tests as checks."""
    yield from dbt.cli(["build"], context=context).stream()


# Dagster's implicit default_automation_condition_sensor starts STOPPED; this one starts running,
# so marts follow syncs on a fresh deployment without a click in the UI.
research_marts_automation_sensor = AutomationConditionSensorDefinition(
    "research_marts_automation",
    target=AssetSelection.assets(usertesting_dbt_assets),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Runs `dbt build` of the research marts after syncs update the raw usertesting tables.",
)

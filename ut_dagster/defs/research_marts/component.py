"""The research marts: the dbt project in dbt_project/ as Dagster assets (declared in defs.yaml).

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    AutomationConditionSensorDefinition,
    ComponentLoadContext,
    DefaultSensorStatus,
    Definitions,
    define_asset_job,
    multi_asset,
)
from dagster_dbt import DbtCliResource, DbtProject, DbtProjectComponent
from filelock import FileLock

from ut_dagster.defs.research_marts.column_types import with_warehouse_types
from ut_dagster.defs.research_marts.project import dbt_executable, manifest_outdated

RESEARCH_MARTS_JOB_NAME = "research_marts"
AUTOMATION_SENSOR_NAME = "research_marts_automation"
# The run's `dbt` resource (resources.py): the warehouse and DuckDB file the sync writes.
DBT_RESOURCE_KEY = "dbt"


@dataclass
class ResearchMartsComponent(DbtProjectComponent):
    """dagster-dbt's component, with what the marts need beyond its YAML attributes.

    - A dbt test's `description` becomes its check's description.
    - `dbt build` runs on the code location's `dbt` resource (the warehouse the sync writes) and the
      dbt beside this interpreter, and the recorded column types read as the warehouse names them.
    - The job and the automation sensor of the marts.
    - The project is parsed where it is (checkout or wheel), by the dbt beside this interpreter, and
      only when a file of it changed.
    """

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        description = manifest["nodes"].get(unique_id, {}).get("description")
        if spec is None or spec.description or not description:
            return spec
        return AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            description=description,
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
            partitions_def=spec.partitions_def,
        )

    def write_state_to_path(self, state_path: Path) -> None:
        # dagster-dbt's preparation copies the project into the state folder, and loads read the copy
        # from then on: a model edited later would be ignored by everything but `dg dev`. It also runs
        # `dbt` from PATH. So the project is parsed in place, and the state only records where.
        self._parse_if_outdated()
        state_path.write_text(str(self.dbt_project.manifest_path), encoding="utf-8")

    def _parse_if_outdated(self) -> None:
        project = self.dbt_project
        project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        # The webserver's and the daemon's code servers load at once under `dg dev`.
        with FileLock(project.manifest_path.with_name("manifest.json.lock")):
            if manifest_outdated(project):
                cli = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
                cli.cli(["parse", "--quiet"], target_path=project.target_path).wait()

    def build_defs_from_state(self, context: ComponentLoadContext, state_path: Path | None) -> Definitions:
        # A checkout never prepared (`pip install -e .`, then `dagster dev -w workspace.yaml` or a
        # test) loads too; outside `dg dev` an existing manifest is used as it is.
        if not self.dbt_project.manifest_path.exists():
            self._parse_if_outdated()
        # The project where it is, never a copy (write_state_to_path).
        (generated,) = super().build_defs_from_state(context, None).assets or []
        if not isinstance(generated, AssetsDefinition):
            raise TypeError(f"expected the dbt assets from DbtProjectComponent, got {generated!r}")
        marts = self._on_dbt_resource(generated)
        return Definitions(
            assets=[marts],
            jobs=[
                define_asset_job(
                    RESEARCH_MARTS_JOB_NAME,
                    selection=AssetSelection.assets(marts),
                    description="`dbt build` of every research mart and its tests, then the research "
                    "alerts: what the automation sensor runs after syncs, for a rebuild by hand.",
                )
            ],
            sensors=[
                # Dagster's implicit default_automation_condition_sensor starts STOPPED; this one
                # starts running, so marts follow syncs on a fresh deployment without a click in the UI.
                AutomationConditionSensorDefinition(
                    AUTOMATION_SENSOR_NAME,
                    target=AssetSelection.assets(marts),
                    default_status=DefaultSensorStatus.RUNNING,
                    minimum_interval_seconds=60,
                    description="Runs `dbt build` of the research marts after syncs update the raw "
                    "usertesting tables.",
                )
            ],
        )

    def _on_dbt_resource(self, generated: AssetsDefinition) -> AssetsDefinition:
        """The component's dbt assets, run on the `dbt` resource.

        The component's own asset builds a `DbtCliResource` of the project itself: no Dagster
        resource (so not the warehouse of the settings) and `dbt` from PATH, refused when a
        virtualenv is not activated. Same specs, checks, name and dbt selection tags.
        """

        @multi_asset(
            specs=list(generated.specs),
            check_specs=list(generated.check_specs),
            can_subset=True,
            name=generated.op.name,
            op_tags=generated.op.tags,
            required_resource_keys={DBT_RESOURCE_KEY},
        )
        def usertesting_dbt(context: AssetExecutionContext) -> Iterator[Any]:
            """Build the selected models and run their tests (`dbt build`), reporting tests as checks.

            Each materialization records the table's row count and its column names and types as the
            warehouse reports them.
            """
            yield from self.execute(context, getattr(context.resources, DBT_RESOURCE_KEY))

        return usertesting_dbt

    def get_cli_args(self, context: AssetExecutionContext) -> list[str]:
        # dagster-dbt renders templated arguments ({{ partition_key }}) only inside its own asset
        # function, which _on_dbt_resource replaces; the marts are not partitioned and need none.
        if not all(isinstance(arg, str) for arg in self.cli_args):
            raise ValueError(f"cli_args of the research marts must be plain strings; got {self.cli_args!r}")
        return [str(arg) for arg in self.cli_args]

    def execute(self, context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        invocation = dbt.cli(self.get_cli_args(context), context=context)
        if self.include_metadata:
            # The metadata fetchers below wait for dbt's events in a loop that never sleeps while the
            # queue is empty (dagster's `imap`): one core at 100 % for the whole build, taken from dbt.
            # `is_successful` runs the build to its end and keeps its output, which `stream` then
            # replays (materializations, checks, and dbt's error at the end), so nothing is waited for.
            # Materializations are reported when the build ends, not model by model; with DuckDB
            # dagster-dbt waits for the end anyway (the file's lock).
            invocation.is_successful()
        events = invocation.stream()
        if "row_count" in self.include_metadata:
            events = events.fetch_row_counts()
        if "column_metadata" in self.include_metadata:
            # Names and types only: column-level lineage would parse every model's compiled SQL again.
            events = events.fetch_column_metadata(with_column_lineage=False)
        # The target as profiles.yml picks it when the resource names none.
        yield from with_warehouse_types(events, dbt.target or os.environ.get("UT_WAREHOUSE", "duckdb"))

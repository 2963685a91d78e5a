"""The research marts' resources, built from the parsed settings: dbt, and a query connection for the
alerts, both on the warehouse the sync writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliInvocation, DbtCliResource

from ut_dagster.defs.research_marts.project import dbt_executable, dbt_project_dir
from ut_dagster.environment import Settings


def marts_resources(settings: Settings) -> dict[str, Any]:
    """What the research marts need: dbt and a query connection for the alerts."""
    return {
        "warehouse": warehouse_query_resource(settings),
        "dbt": dbt_resource(settings.warehouse, duckdb_path=settings.duckdb_path),
    }


def warehouse_query_resource(settings: Settings) -> Any:
    """A resource with `get_connection()` on the configured warehouse (used by the research alerts)."""
    if settings.warehouse == "snowflake":
        from dagster_usertesting.lib.warehouse.snowflake import snowflake_resource

        return snowflake_resource()
    from dagster_usertesting.lib.warehouse.duckdb_query import DuckDBQueryResource

    return DuckDBQueryResource(database=str(settings.duckdb_path))


# A DbtCliResource that tells dbt which DuckDB file to use (ignored by the Snowflake target). The
# path travels as the dbt var `duckdb_path`, which profiles.yml prefers over UT_DUCKDB_PATH, so dbt
# builds from exactly the file the sync's IO manager writes, whatever the working directory or
# environment of the run.
class WarehouseDbtCliResource(DbtCliResource):
    """Runs dbt to build the research marts from the synced tables, in the warehouse the sync writes."""

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
        project_dir=str(dbt_project_dir()),
        dbt_executable=dbt_executable(),
        target=target,
        duckdb_path=str(Path(duckdb_path).resolve()) if duckdb_path else None,
    )

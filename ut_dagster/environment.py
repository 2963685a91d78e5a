"""The one place that decides where data goes: local (DuckDB + a folder) or production (Snowflake + S3).

Everything is chosen by environment variables, so switching is configuration alone:

    UT_DATA_DIR      local state root (default ./.ut_data): DuckDB file, landing area, limiter state
    UT_WAREHOUSE     duckdb (default) or snowflake (then SNOWFLAKE_* settings apply)
    UT_DUCKDB_PATH   DuckDB file (default $UT_DATA_DIR/warehouse.duckdb)
    UT_OBJECT_STORE  landing area and video archive: a folder or s3://bucket/prefix
                     (default $UT_DATA_DIR/objects)
    UT_S3_ENDPOINT_URL  S3-compatible endpoint for an s3:// UT_OBJECT_STORE (MinIO, moto);
                     unset means AWS S3 (credentials and region from the standard AWS chain)
    UT_SYNC_CRON     when the scheduled sync runs (default 0 2 * * *, UTC)
    UT_FRESHNESS_HOURS  warn when a test was not synced for this long (default 26)
    UT_RECONCILE_HOURS  walk each test's whole listing at least this often, removing sessions
                     deleted upstream (default 24)

Nothing else in the project branches on the environment: assets see only resources.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.usertesting_api.resource import UserTestingResource

WAREHOUSES = ("duckdb", "snowflake")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: str
    duckdb_path: Path
    object_store: str
    rate_limit_store: str
    sync_cron: str
    freshness_hours: float
    s3_endpoint_url: str | None = None
    reconcile_hours: float = 24.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("UT_DATA_DIR") or ".ut_data").expanduser().resolve()
        warehouse = (env.get("UT_WAREHOUSE") or "duckdb").strip().lower()
        if warehouse not in WAREHOUSES:
            raise ValueError(f"UT_WAREHOUSE must be one of {', '.join(WAREHOUSES)}; got {warehouse!r}.")
        store = env.get("UT_OBJECT_STORE") or str(data_dir / "objects")
        if not store.startswith("s3://"):
            store = str(Path(store).expanduser().resolve())
        return cls(
            data_dir=data_dir,
            warehouse=warehouse,
            duckdb_path=Path(env.get("UT_DUCKDB_PATH") or data_dir / "warehouse.duckdb")
            .expanduser()
            .resolve(),
            object_store=store,
            # Beside the Dagster instance's data, so runs, the sensor and the CLI share one budget.
            rate_limit_store=env.get("USERTESTING_RATE_LIMIT_STORE")
            or str(data_dir / "usertesting-rate-limit.sqlite"),
            sync_cron=env.get("UT_SYNC_CRON") or "0 2 * * *",
            freshness_hours=float(env.get("UT_FRESHNESS_HOURS") or 26),
            s3_endpoint_url=env.get("UT_S3_ENDPOINT_URL") or None,
            reconcile_hours=float(env.get("UT_RECONCILE_HOURS") or 24),
        )

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"


def warehouse_io_manager(settings: Settings) -> Any:
    """The IO manager for the configured warehouse (Snowflake modules load only when chosen)."""
    from ut_dagster.lib import warehouse

    if settings.warehouse == "snowflake":
        return warehouse.snowflake_io_manager()
    return warehouse.duckdb_io_manager(settings.duckdb_path)


def warehouse_query_resource(settings: Settings) -> Any:
    """A resource with `get_connection()` on the configured warehouse (used by the research alerts)."""
    if settings.warehouse == "snowflake":
        from ut_dagster.lib.warehouse.snowflake import snowflake_resource

        return snowflake_resource()
    from dagster_duckdb import DuckDBResource

    return DuckDBResource(database=str(settings.duckdb_path))


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    from ut_dagster.defs.research_marts.dbt import dbt_resource
    from ut_dagster.defs.usertesting.resources import SyncSettings

    settings = settings or Settings.from_env()
    return {
        # USERTESTING_RATE_LIMIT_STORE, when set, wins (as a secret); this is the local default.
        "usertesting": UserTestingResource.from_env(rate_limit_store=settings.rate_limit_store),
        "object_store": ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url),
        "io_manager": warehouse_io_manager(settings),
        "warehouse": warehouse_query_resource(settings),
        "dbt": dbt_resource(settings.warehouse, duckdb_path=settings.duckdb_path),
        "sync_settings": SyncSettings(reconcile_hours=settings.reconcile_hours),
    }

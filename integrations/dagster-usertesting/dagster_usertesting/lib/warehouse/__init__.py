"""The warehouse (DuckDB or Snowflake): project-owned tables written one test partition at a time.

- `TableWrite`: what a sync hands over (a table's rows, and the sessions they replace, or None for
  the whole test partition).
- IO managers (`duckdb_io_manager`, `snowflake_io_manager`): public `ConfigurableIOManager`s that
  accept a TableWrite or a plain DataFrame (= replace the partition) and load typed partitions.
- `open_warehouse(settings)`: the same writes, reads and `delete_test` outside Dagster runs.
- `WarehouseUnavailableError`: a locked DuckDB file or an unreachable Snowflake, with what to do.

Import cost matters here: `import snowflake.connector` takes seconds, so neither this module nor
`duckdb` imports anything Snowflake; the Snowflake module is imported only when chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dagster_usertesting.lib.warehouse.base import (
    TableWrite,
    WarehouseClient,
    WarehouseUnavailableError,
    WriteResult,
)

if TYPE_CHECKING:
    from dagster_usertesting.lib.warehouse.duckdb import UserTestingDuckDBIOManager
    from dagster_usertesting.lib.warehouse.snowflake import UserTestingSnowflakeIOManager

__all__ = [
    "TableWrite",
    "WarehouseClient",
    "WarehouseUnavailableError",
    "WriteResult",
    "duckdb_io_manager",
    "open_warehouse",
    "snowflake_io_manager",
]


class WarehouseSettings(Protocol):
    """What open_warehouse reads from dagster_usertesting.settings.SyncSettings."""

    warehouse: str
    duckdb_path: Path


def duckdb_io_manager(path: str | Path, lock_timeout_s: float = 60.0) -> UserTestingDuckDBIOManager:
    """IO manager writing to the DuckDB file at `path`; its folder is created on first use."""
    from dagster_usertesting.lib.warehouse.duckdb import duckdb_io_manager as build

    return build(path, lock_timeout_s)


def snowflake_io_manager() -> UserTestingSnowflakeIOManager:
    """IO manager for Snowflake configured from SNOWFLAKE_* environment variables (as EnvVar)."""
    from dagster_usertesting.lib.warehouse.snowflake import snowflake_io_manager as build

    return build()


def open_warehouse(settings: WarehouseSettings) -> WarehouseClient:
    """The configured warehouse, for work outside a Dagster run (the CLI, `forget`)."""
    if settings.warehouse == "snowflake":
        from dagster_usertesting.lib.warehouse.snowflake import snowflake_warehouse

        return snowflake_warehouse()
    from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings.duckdb_path)

"""Warehouse IO managers (DuckDB, Snowflake) that create schema.py tables with project-owned DDL.

Import cost matters here: `import dagster_snowflake` takes ~10 s, so neither this module nor
`duckdb` imports anything Snowflake. `snowflake_io_manager` imports its module only when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ut_dagster.lib.warehouse.ddl import COLUMN_TYPES, create_schema_sql, create_table_sql, table_named

if TYPE_CHECKING:
    from ut_dagster.lib.warehouse.duckdb import UsertestingDuckDBIOManager
    from ut_dagster.lib.warehouse.snowflake import UsertestingSnowflakeIOManager

__all__ = [
    "COLUMN_TYPES",
    "create_schema_sql",
    "create_table_sql",
    "duckdb_io_manager",
    "snowflake_io_manager",
    "table_named",
]


def duckdb_io_manager(path: str | Path) -> UsertestingDuckDBIOManager:
    """IO manager writing to the DuckDB file at `path`; its folder is created on first use."""
    from ut_dagster.lib.warehouse.duckdb import duckdb_io_manager as build

    return build(path)


def snowflake_io_manager() -> UsertestingSnowflakeIOManager:
    """IO manager for Snowflake configured from SNOWFLAKE_* environment variables (as EnvVar)."""
    from ut_dagster.lib.warehouse.snowflake import snowflake_io_manager as build

    return build()

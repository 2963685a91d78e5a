"""Project-owned DDL: the column types of every schema.py table in DuckDB and Snowflake.

The IO managers create each table from this DDL before the first write instead of letting the
library infer types from the first DataFrame. That fixes the column types (an all-null column would
otherwise be inferred as VARCHAR or NUMBER), makes an empty first write still create the table, and
makes the delete-before-insert of a partition run against a table that exists.
"""

from __future__ import annotations

import re
from typing import Literal

from ut_dagster.lib.schema import ALL_TABLES, BIGINT, BOOLEAN, DOUBLE, JSON, SCHEMA, STRING, TIMESTAMP, Table

Dialect = Literal["duckdb", "snowflake"]

# JSON stays text in both warehouses; dbt staging parses it (see schema.py for why not VARIANT).
# Snowflake: TIMESTAMP_NTZ because the frames carry naive UTC; NUMBER(38,0) is what BIGINT means.
COLUMN_TYPES: dict[Dialect, dict[str, str]] = {
    "duckdb": {
        STRING: "VARCHAR",
        JSON: "VARCHAR",
        TIMESTAMP: "TIMESTAMP",
        BIGINT: "BIGINT",
        DOUBLE: "DOUBLE",
        BOOLEAN: "BOOLEAN",
    },
    "snowflake": {
        STRING: "VARCHAR",
        JSON: "VARCHAR",
        TIMESTAMP: "TIMESTAMP_NTZ",
        BIGINT: "NUMBER(38,0)",
        DOUBLE: "FLOAT",
        BOOLEAN: "BOOLEAN",
    },
}

# Identifiers are interpolated into SQL unquoted (so Snowflake upper-cases them like the library
# does); only plain names are accepted so nothing else can reach the statement.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return name


def qualified_name(*parts: str | None) -> str:
    """`a.b.c` from the parts that are set, each checked to be a plain identifier."""
    return ".".join(_identifier(p) for p in parts if p)


def column_type(logical_type: str, dialect: Dialect) -> str:
    try:
        return COLUMN_TYPES[dialect][logical_type]
    except KeyError:
        raise ValueError(f"no {dialect} type for logical type {logical_type!r}") from None


def create_schema_sql(schema: str = SCHEMA, database: str | None = None) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {qualified_name(database, schema)}"


def create_table_sql(
    table: Table | str, dialect: Dialect, *, schema: str = SCHEMA, database: str | None = None
) -> str:
    """`CREATE TABLE IF NOT EXISTS <schema>.<name> (...)` with the table's columns in order."""
    if isinstance(table, str):
        found = table_named(table)
        if found is None:
            raise ValueError(f"{table!r} is not a table in ut_dagster.lib.schema")
        table = found
    columns = ",\n  ".join(f"{_identifier(c.name)} {column_type(c.type, dialect)}" for c in table.columns)
    return f"CREATE TABLE IF NOT EXISTS {qualified_name(database, schema, table.name)} (\n  {columns}\n)"


def table_named(name: str) -> Table | None:
    """The schema.py table for an asset key's last component; None for tables this project doesn't own.

    Snowflake reports names upper-cased, hence the case-insensitive lookup.
    """
    return ALL_TABLES.get(name) or ALL_TABLES.get(name.lower())

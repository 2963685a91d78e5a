"""Project-owned DDL: every schema.py table, typed from its logical types, in DuckDB or Snowflake.

The writers create a table from this DDL before its first write instead of letting a library infer
types from the first DataFrame: an all-null column would otherwise be VARCHAR or NUMBER, and an
empty first write would create no table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from dagster_usertesting.lib.schema import LogicalType, Table

Dialect = Literal["duckdb", "snowflake"]

# Identifiers are interpolated into SQL unquoted (Snowflake upper-cases them); only plain names are
# accepted so nothing else can reach a statement.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return name


def qualified_name(*parts: str | None) -> str:
    """`a.b.c` from the parts that are set, each checked to be a plain identifier."""
    return ".".join(identifier(p) for p in parts if p)


def column_list(table: Table, columns: Sequence[str] | None = None) -> str:
    names = table.column_names if columns is None else [c for c in columns if c in table.column_names]
    return ", ".join(identifier(c) for c in names)


def create_table_sql(table: Table, dialect: Dialect, name: str, *, temporary: bool = False) -> str:
    """`CREATE [TEMPORARY] TABLE [IF NOT EXISTS] <name> (...)`, the table's columns in order.

    The real table has NOT NULL where schema.py says so; a temporary staging table has none, so a
    refused row fails the transaction's INSERT rather than the upload before it.
    """
    columns = ",\n  ".join(
        f"{identifier(c.name)} {getattr(LogicalType(c.type), dialect)}"
        + ("" if c.nullable or temporary else " NOT NULL")
        for c in table.columns
    )
    head = "CREATE TEMPORARY TABLE" if temporary else "CREATE TABLE IF NOT EXISTS"
    return f"{head} {name} (\n  {columns}\n)"

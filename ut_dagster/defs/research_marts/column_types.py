"""Mart column types as the warehouse names them, in the column schema a dbt build records.

dagster-dbt's `fetch_column_metadata` reads columns through dbt's adapter and records dbt's
`Column.data_type`, which renders every string column as "character varying(N)", with N = 256
when the warehouse reports no length. DuckDB's VARCHAR never has one, so every DuckDB text column
read "character varying(256)" in the UI: a limit that does not exist. dagster-dbt has no option for
this, so the recorded schema is rewritten on its way out (public `with_metadata`).
"""

import re
from collections.abc import Iterable, Iterator
from typing import Any

from dagster import AssetMaterialization, Output, TableColumn, TableSchema, TableSchemaMetadataValue

COLUMN_SCHEMA = "dagster/column_schema"
# dbt's rendering of a string column (dbt.adapters.base.column.Column.string_type).
_DBT_STRING = re.compile(r"character varying\((\d+)\)", re.IGNORECASE)
# Snowflake's VARCHAR without a length is VARCHAR(16777216), the maximum.
_SNOWFLAKE_UNSIZED = 16_777_216


def warehouse_type(data_type: str, target: str) -> str:
    """The type a user knows from the warehouse for dbt's `data_type` of a column on `target`."""
    match = _DBT_STRING.fullmatch(data_type.strip())
    if match is None:
        return data_type
    size = int(match.group(1))
    if target == "duckdb" or size == _SNOWFLAKE_UNSIZED:
        return "VARCHAR"
    return f"VARCHAR({size})"


def with_warehouse_types(events: Iterable[Any], target: str) -> Iterator[Any]:
    """The dbt build's events, their recorded column types named as the warehouse names them."""
    for event in events:
        if isinstance(event, Output | AssetMaterialization):
            schema = event.metadata.get(COLUMN_SCHEMA)
            if isinstance(schema, TableSchemaMetadataValue):
                renamed = _renamed(schema.schema, target)
                event = event.with_metadata({**event.metadata, COLUMN_SCHEMA: renamed})
        yield event


def _renamed(schema: TableSchema, target: str) -> TableSchema:
    columns = [
        TableColumn(
            name=column.name,
            type=warehouse_type(column.type, target),
            description=column.description,
            constraints=column.constraints,
            tags=column.tags,
        )
        for column in schema.columns
    ]
    return TableSchema(columns=columns, constraints=schema.constraints)

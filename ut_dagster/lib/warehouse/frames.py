"""One pandas dtype per logical type, on the way into and out of the warehouse.

Writes: the DuckDB IO manager inserts by column position, so a frame whose columns differ from the
table's (name or order) is refused rather than silently written into the wrong columns.
Loads: each warehouse hands back its own dtypes (DuckDB: datetime64[us], int64 when a column has no
nulls; Snowflake: Decimal or float for NUMBER), so a downstream asset would see a partition's dtypes
change with its contents. Loads are cast back to the dtypes the assets produce.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd
from dagster import MetadataValue, OutputContext, TableColumn, TableSchema
from dagster._core.definitions.metadata import TableMetadataSet

from ut_dagster.lib.schema import BIGINT, BOOLEAN, DOUBLE, JSON, TIMESTAMP, Table


class FrameColumnsError(ValueError):
    """A DataFrame whose columns are not exactly its table's columns in order."""


def frame_for_write(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with canonical dtypes; raises FrameColumnsError unless its columns are the table's, in order."""
    actual = [str(c) for c in frame.columns]
    if actual != table.column_names:
        missing = [c for c in table.column_names if c not in actual]
        extra = [c for c in actual if c not in table.column_names]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "same columns, wrong order"
        raise FrameColumnsError(
            f"DataFrame for {table.name} must have exactly the columns of ut_dagster.lib.schema in order "
            f"({detail}); expected {table.column_names}, got {actual}"
        )
    return _with_dtypes(table, frame, table.column_names)


def frame_from_load(table: Table, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A loaded frame with lower-case column names, in table order (or `columns` order), canonical dtypes."""
    wanted = list(columns) if columns else table.column_names
    if frame.shape[1] == 0:
        # The library returns a bare pd.DataFrame() when no partition is selected.
        frame = pd.DataFrame({name: [] for name in wanted})
    frame = frame.rename(columns=lambda c: str(c).lower())
    return _with_dtypes(table, frame, [c.lower() for c in wanted])


def _with_dtypes(table: Table, frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    types = {c.name: c.type for c in table.columns}
    data = {name: _cast(frame[name], types[name]) if name in types else frame[name] for name in names}
    return pd.DataFrame(data, columns=names, index=frame.index).reset_index(drop=True)


def _cast(series: pd.Series, logical_type: str) -> pd.Series:
    if logical_type == TIMESTAMP:
        # utc=True converts aware values and takes naive ones as UTC (every time here is UTC).
        return pd.to_datetime(series, utc=True).dt.tz_localize(None).astype("datetime64[ns]")
    if logical_type == BIGINT:
        if series.dtype == object:
            # Snowflake may hand back Decimal; to_numeric keeps ints exact and maps None to NaN.
            series = pd.to_numeric(series)
        return series.astype("Int64")
    if logical_type == DOUBLE:
        return pd.to_numeric(series).astype("float64")
    if logical_type == BOOLEAN:
        return series.astype("boolean")
    if logical_type == JSON:
        # Text is the contract, but a dict or list slipping through is serialised rather than
        # written as a struct the warehouse would store differently.
        series = series.map(lambda v: json.dumps(v) if isinstance(v, dict | list) else v)
    # STRING and JSON: object dtype with None (not NaN/NA) for nulls, as the normalizers produce.
    return series.astype(object).where(series.notna(), None)


def output_metadata(context: OutputContext, frame: pd.DataFrame, storage_kind: str) -> dict[str, object]:
    """The metadata the library type handlers attach, so the UI looks the same for our tables."""
    counts = (
        TableMetadataSet(partition_row_count=len(frame), storage_kind=storage_kind)
        if context.has_partition_key
        else TableMetadataSet(row_count=len(frame), storage_kind=storage_kind)
    )
    columns = [TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()]
    return {**counts, "dataframe_columns": MetadataValue.table_schema(TableSchema(columns=columns))}

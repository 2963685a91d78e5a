"""Typed DataFrames of schema.py tables: one pandas dtype per logical type, everywhere.

`to_frame` builds a table's frame from normalizer rows (and refuses values of the wrong type);
`typed_frame` gives any frame of a table, written or loaded, the same columns and dtypes. Each
warehouse hands back its own dtypes (DuckDB 1.x float64 for an integer column with nulls;
Snowflake float for NUMBER, object for BOOLEAN, upper-case names), so without this a downstream
asset would see a partition's dtypes change with its contents or its warehouse.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ut_dagster.lib.schema import LogicalType, Table


class FrameColumnsError(ValueError):
    """A DataFrame whose columns are not exactly its table's columns."""


def to_frame(table: Table, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame with exactly `table.column_names`, in order, typed per column.

    A key missing from a row is null. A key the table does not have, or a value of the wrong Python
    type, raises: both mean a normalizer and schema.py disagree, which must not reach the warehouse.
    """
    known = set(table.column_names)
    for index, row in enumerate(rows):
        extra = [key for key in row if key not in known]
        if extra:
            raise ValueError(f"{table.name} row {index} has columns the table does not define: {extra}")

    data: dict[str, pd.Series] = {}
    for column in table.columns:
        kind = _logical_type(table, column.name, column.type)
        check = _CHECKS[kind]
        values = [_null_if_missing(row.get(column.name)) for row in rows]
        for index, value in enumerate(values):
            if value is not None and not check(value):
                raise TypeError(
                    f"{table.name} row {index}: {column.name} is {type(value).__name__} {value!r}, "
                    f"not a {column.type}"
                )
        if kind == LogicalType.TIMESTAMP:
            values = [_naive_utc(v) for v in values]
        data[column.name] = pd.Series(values, dtype=kind.pandas)
    return pd.DataFrame(data, columns=table.column_names)


def typed_frame(table: Table, frame: pd.DataFrame, *, from_warehouse: bool = False) -> pd.DataFrame:
    """`frame` with the table's columns in table order and canonical dtypes.

    Raises FrameColumnsError unless the columns are exactly the table's (any order: writes go by
    column name). `from_warehouse` also accepts the upper-case names Snowflake reports.
    """
    if from_warehouse:
        frame = frame.rename(columns=lambda c: str(c).lower())
    actual = [str(c) for c in frame.columns]
    if sorted(actual) != sorted(table.column_names):
        missing = [c for c in table.column_names if c not in actual]
        extra = [c for c in actual if c not in table.column_names]
        duplicated = sorted({c for c in actual if actual.count(c) > 1})
        raise FrameColumnsError(
            f"DataFrame for {table.name} must have exactly the columns of ut_dagster.lib.schema: "
            f"missing {missing}, unexpected {extra}" + (f", duplicated {duplicated}" if duplicated else "")
        )
    if _is_typed(table, frame):
        return frame  # the normalizers' frames: casting would only copy every column
    data = {c.name: _cast(frame[c.name], _logical_type(table, c.name, c.type)) for c in table.columns}
    return pd.DataFrame(data, columns=table.column_names).reset_index(drop=True)


def empty_frame(table: Table, columns: Sequence[str] | None = None) -> pd.DataFrame:
    frame = to_frame(table, [])
    return frame if columns is None else frame[list(columns)]


def _logical_type(table: Table, column: str, value: str) -> LogicalType:
    try:
        return LogicalType(value)
    except ValueError:
        raise ValueError(f"{table.name}.{column} has unknown logical type {value!r}") from None


def _is_typed(table: Table, frame: pd.DataFrame) -> bool:
    """Whether `frame` already is what typed_frame makes of it: a check in C, column by column."""
    index = frame.index
    if list(frame.columns) != table.column_names or not (
        isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    ):
        return False
    for column in table.columns:
        series = frame[column.name]
        logical_type = _logical_type(table, column.name, column.type)
        if str(series.dtype) != logical_type.pandas:
            return False
        if logical_type in (LogicalType.STRING, LogicalType.JSON) and not _is_text(series):
            return False
    return True


def _is_text(series: pd.Series) -> bool:
    """Strings, and None for null (what _text makes of any other null), checked in C."""
    values = series.to_numpy()
    # infer_dtype says "string" only without nulls; with them, strings once the Nones are left out.
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return True
    strings = values[~np.equal(values, None)]
    return pd.api.types.infer_dtype(strings, skipna=False) in ("string", "empty")


def _cast(series: pd.Series, logical_type: LogicalType) -> pd.Series:
    series = series.reset_index(drop=True)
    if logical_type in (LogicalType.STRING, LogicalType.JSON):
        return _text(series, logical_type)
    if str(series.dtype) == logical_type.pandas:
        return series  # already canonical: the normalizers' frames take this path
    if logical_type == LogicalType.TIMESTAMP:
        # utc=True converts aware values and takes naive ones as UTC (every time here is UTC).
        return pd.to_datetime(series, utc=True).dt.tz_localize(None).astype(logical_type.pandas)
    if logical_type == LogicalType.BIGINT:
        if series.dtype == object:
            # Snowflake may hand back Decimal; to_numeric keeps ints exact and maps None to NaN.
            series = pd.to_numeric(series)
        return series.astype(logical_type.pandas)
    if logical_type == LogicalType.DOUBLE:
        return pd.to_numeric(series).astype(logical_type.pandas)
    return series.astype(logical_type.pandas)


def _text(series: pd.Series, logical_type: LogicalType) -> pd.Series:
    """Object dtype with None (not NaN/NA) for nulls, as the normalizers produce."""
    # infer_dtype is one pass in C: a column of text only (the common case) needs nothing more.
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=False) == "string":
        return series
    if logical_type == LogicalType.JSON:
        # Text is the contract, but a dict or list slipping through is serialised rather than
        # written as a struct the warehouse would store differently.
        series = series.map(lambda v: json.dumps(v) if isinstance(v, dict | list) else v)
    return series.astype(object).where(series.notna(), None)


def _null_if_missing(value: object) -> object:
    # Rows built from other frames may carry pandas' or numpy's missing markers instead of None.
    if value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _naive_utc(value: datetime | None) -> datetime | None:
    # Naive values are taken to be UTC already: every time this project handles is UTC.
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _is_int(value: object) -> bool:
    # numbers.Integral admits numpy integers too; bool is an int to Python but never a count.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_float(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


_CHECKS: dict[LogicalType, Callable[[object], bool]] = {
    LogicalType.STRING: lambda v: isinstance(v, str),
    LogicalType.JSON: lambda v: isinstance(v, str),
    LogicalType.TIMESTAMP: lambda v: isinstance(v, datetime),
    LogicalType.BIGINT: _is_int,
    LogicalType.DOUBLE: _is_float,
    LogicalType.BOOLEAN: lambda v: isinstance(v, bool | np.bool_),
}

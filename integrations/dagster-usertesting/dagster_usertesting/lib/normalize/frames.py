"""Typed DataFrames of schema.py tables: one pandas dtype per logical type, everywhere.

`frame_from_tuples` builds every frame a sync writes, column by column from rows as tuples in
column order; `to_frame` is its door for rows as dicts (the smaller tables' normalizers), checking
each value's type first. `typed_frame` gives any frame of a table, written or loaded, the same
columns and dtypes. Each
warehouse hands back its own dtypes (DuckDB 1.x float64 for an integer column with nulls;
Snowflake float for NUMBER, object for BOOLEAN, upper-case names), so without this a downstream
asset would see a partition's dtypes change with its contents or its warehouse.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from dagster_usertesting.lib.schema import LogicalType, Table


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
    tuples = [tuple(_null_if_missing(row.get(name)) for name in table.column_names) for row in rows]
    for position, column in enumerate(table.columns):
        check = _CHECKS[_logical_type(table, column.name, column.type)]
        for index, values in enumerate(tuples):
            value = values[position]
            if value is not None and not check(value):
                raise TypeError(
                    f"{table.name} row {index}: {column.name} is {type(value).__name__} {value!r}, "
                    f"not a {column.type}"
                )
    return frame_from_tuples(table, tuples)


def frame_from_tuples(table: Table, rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows as tuples in column order -> the table's typed frame.

    No per-value type check: the values come from the normalizers, whose types the tests pin (and
    `to_frame` checks for rows as dicts). Timestamps are converted once per distinct value.
    """
    count, width = len(rows), len(table.columns)
    # One pass over the rows into a row-major array and one transposing copy give every column as
    # a contiguous array: cheaper than zip(*rows) then an array per column, which walks the
    # scattered row tuples once per column.
    cells = np.fromiter(itertools.chain.from_iterable(rows), dtype=object, count=count * width)
    columns = np.ascontiguousarray(cells.reshape(count, width).T)
    data = {
        column.name: pd.Series(_BUILDERS[_logical_type(table, column.name, column.type)](values), copy=False)
        for column, values in zip(table.columns, columns, strict=True)
    }
    # copy=False keeps each column's array: the default would copy the text columns into one
    # 2D block, touching every string object again.
    return pd.DataFrame(data, columns=table.column_names, copy=False)


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
            f"DataFrame for {table.name} must have exactly the columns of dagster_usertesting.lib.schema: "
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


def _objects(values: np.ndarray) -> np.ndarray:
    # A copy, not a view: a view would keep the whole transposed array alive with the frame, and
    # with it the Python objects of every numeric column.
    return values.copy()


def _integers(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    mask = np.equal(values, None)
    return pd.arrays.IntegerArray(np.where(mask, 0, values).astype(np.int64), mask)


def _floats(values: np.ndarray) -> np.ndarray:
    return np.where(np.equal(values, None), np.nan, values).astype(np.float64)


def _booleans(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    mask = np.equal(values, None)
    return pd.arrays.BooleanArray(np.where(mask, False, values).astype(bool), mask)


def _timestamps(values: np.ndarray) -> np.ndarray:
    # Every row of a session shares one extracted_at: convert each distinct value once. Naive values
    # are taken to be UTC already: every time this project handles is UTC.
    converted: dict[Any, np.datetime64] = {}
    for value in set(values):
        if value is None:
            converted[value] = np.datetime64("NaT", "ns")
            continue
        naive = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        # A pandas Timestamp (rows built from another frame) may hold nanoseconds a datetime cannot.
        converted[value] = (
            naive.to_datetime64() if isinstance(naive, pd.Timestamp) else np.datetime64(naive, "ns")
        )
    return np.fromiter((converted[v] for v in values), dtype="datetime64[ns]", count=len(values))


_BUILDERS: dict[LogicalType, Callable[[np.ndarray], Any]] = {
    LogicalType.STRING: _objects,
    LogicalType.JSON: _objects,
    LogicalType.TIMESTAMP: _timestamps,
    LogicalType.BIGINT: _integers,
    LogicalType.DOUBLE: _floats,
    LogicalType.BOOLEAN: _booleans,
}

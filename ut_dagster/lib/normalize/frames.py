"""Rows to pandas DataFrames with the exact columns and stable dtypes of a table.

The DuckDB IO manager inserts by column position and an empty first write creates no table, so
every frame, empty or not, has the table's columns in order with one dtype per logical type:
a partition with no tasks must look exactly like one with tasks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ut_dagster.lib.schema import BIGINT, BOOLEAN, DOUBLE, JSON, STRING, TIMESTAMP, Table

DTYPES: dict[str, str] = {
    STRING: "object",
    JSON: "object",
    TIMESTAMP: "datetime64[ns]",
    BIGINT: "Int64",
    DOUBLE: "float64",
    BOOLEAN: "boolean",
}


def to_frame(table: Table, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame with exactly `table.column_names`, in order, typed per column.

    A key missing from a row is null. A key the table does not have, or a value of the wrong Python
    type, raises: both mean a normalizer and schema.py disagree, which must not reach the warehouse.
    """
    names = table.column_names
    known = set(names)
    for index, row in enumerate(rows):
        extra = [key for key in row if key not in known]
        if extra:
            raise ValueError(f"{table.name} row {index} has columns the table does not define: {extra}")

    data: dict[str, pd.Series] = {}
    for column in table.columns:
        check = _CHECKS.get(column.type)
        if check is None:
            raise ValueError(f"{table.name}.{column.name} has unknown logical type {column.type!r}")
        values = [_null_if_missing(row.get(column.name)) for row in rows]
        for index, value in enumerate(values):
            if value is not None and not check(value):
                raise TypeError(
                    f"{table.name} row {index}: {column.name} is {type(value).__name__} {value!r}, "
                    f"not a {column.type}"
                )
        if column.type == TIMESTAMP:
            values = [_naive_utc(v) for v in values]
        data[column.name] = pd.Series(values, dtype=DTYPES[column.type])
    return pd.DataFrame(data, columns=names)


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


_CHECKS: dict[str, Callable[[object], bool]] = {
    STRING: lambda v: isinstance(v, str),
    JSON: lambda v: isinstance(v, str),
    TIMESTAMP: lambda v: isinstance(v, datetime),
    BIGINT: _is_int,
    DOUBLE: _is_float,
    BOOLEAN: lambda v: isinstance(v, bool | np.bool_),
}

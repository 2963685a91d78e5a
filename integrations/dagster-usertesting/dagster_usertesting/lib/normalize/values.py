"""Tolerant coercion of loosely specified API values into the column types of schema.py.

The API documents almost nothing as required and sends numbers as floats (15000.0), so every typed
column goes through one of these helpers: they return None for anything they cannot read rather
than raise. Structure checks (`object_at`, `list_at`) are the exception: a list where an object must
be means the payload cannot be interpreted, and they raise MalformedPayloadError saying where.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from dagster_usertesting.lib.normalize.errors import MalformedPayloadError, kind_of
from dagster_usertesting.lib.schema import Table

# BIGINT columns land in pandas Int64 and warehouse 64-bit integers; a larger value is garbage.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# JSON can escape a lone UTF-16 surrogate ("\ud800") and json.loads turns it into a Python str that
# no warehouse text type can hold: one such character fails the write of the whole partition.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def as_number(value: object) -> int | float | None:
    """A finite number from a number or numeric string; None for anything else.

    Booleans are refused although Python treats them as ints: `true` is not a score of 1.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_int(value: object) -> int | None:
    """An integer for a BIGINT column: 15000.0 -> 15000, 15000.4 -> 15000 (nearest); else None."""
    if value.__class__ is int:  # the common case first: millisecond times, counts
        return value if _INT64_MIN <= value <= _INT64_MAX else None  # type: ignore[operator]
    number = as_number(value)
    if number is None:
        return None
    result = round(number) if isinstance(number, float) else number
    return result if _INT64_MIN <= result <= _INT64_MAX else None


def as_exact_int(value: object) -> int | None:
    """An integer only when the value is integral (7 or 7.0, not 7.5): for scores on an integer scale."""
    number = as_number(value)
    if number is None or (isinstance(number, float) and not number.is_integer()):
        return None
    return as_int(number)


def as_float(value: object) -> float | None:
    number = as_number(value)
    if number is None:
        return None
    try:
        return float(number)
    except OverflowError:
        # An integer beyond a double's range (JSON allows 1 followed by 400 zeros) is garbage.
        return None


def as_percentage(value: object) -> float | None:
    """A 0-100 score; values outside the range are treated as unreadable rather than clipped."""
    number = as_float(value)
    return number if number is not None and 0 <= number <= 100 else None


def as_bool(value: object) -> bool | None:
    """A flag from a boolean, "true"/"false" or 0/1; None for anything else."""
    if value is True or value is False or value is None:
        return value  # type: ignore[return-value]
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def as_str(value: object) -> str | None:
    """Text for a STRING column.

    Strings pass through untouched (unknown enum values included) except for lone surrogates, which
    become U+FFFD (see `valid_text`). Other JSON values are kept in their JSON spelling, so an ID
    that arrives as a number or an odd object is not silently lost.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return valid_text(value)
    return json_text(value, "a string column")


def valid_text(value: str) -> str:
    """`value` with each lone surrogate replaced by U+FFFD, so a warehouse text column accepts it.

    The JSON columns keep such characters exactly (escaped); only plain text columns lose them.
    """
    # isascii() reads a flag CPython keeps on every string: the usual case costs nothing.
    return value if value.isascii() else _LONE_SURROGATE.sub("\ufffd", value)


def json_text(value: Any, where: str | Callable[[], str]) -> str | None:
    """Compact JSON text such that json.loads(text) == value, key order and unicode kept.

    None becomes SQL null, not the string "null", so "no answer" stays distinguishable in SQL.
    NaN and infinities are not JSON and warehouse JSON parsers reject them, so they become null.
    Lone surrogates are written as \\u escapes, which parse back to the same string.
    `where` names the place for the error message; a callable is only called when there is an error
    (building the text for every value costs more than encoding most of them).
    """
    if value is None:
        return None
    try:
        # orjson writes the same compact text several times faster (NaN and infinities as null
        # too); only some floats below 1e-4 are spelled otherwise (0.00001, 1e-9 for Python's
        # 1e-05, 1e-09), which parse to the same numbers.
        # What it refuses (a lone surrogate, an integer beyond 64 bits, nesting beyond 254 levels,
        # a value JSON has no type for) goes the standard library's way below.
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        pass
    try:
        try:
            text = _ENCODE(value)
        except ValueError:
            # json.loads turns the constants back into null in C: a Python walk of the value would
            # hit the recursion limit at half the depth json.loads itself accepted.
            text = _ENCODE(json.loads(_ENCODE_LENIENT(value), parse_constant=lambda _: None))
    except TypeError as error:
        place = where() if callable(where) else where
        raise MalformedPayloadError(f"{place} holds a value that is not JSON: {error}") from error
    except RecursionError as error:
        place = where() if callable(where) else where
        raise MalformedPayloadError(f"{place} is nested too deeply to store as JSON text") from error
    if text.isascii():
        return text
    # Outside string literals JSON text is ASCII, so every surrogate here is inside one.
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


# Without these, orjson would write dates, dataclasses and subclasses of str/int/dict its own way
# where the standard library refuses them or writes them as their base type. (It still writes a UUID
# or an Enum member, which json.loads never returns.)
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# json.dumps builds an encoder per call unless its arguments are the defaults; these are built once.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_ENCODE_LENIENT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def object_at(value: object, where: str) -> dict[str, Any] | None:
    """The value as an object, None when null; MalformedPayloadError for anything else."""
    return None if value is None else require_object(value, where)


def require_object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayloadError(f"{where} is {kind_of(value)}, expected an object")
    return value


def list_at(value: object, where: str) -> list[Any]:
    """The value as a list; a missing or null list is an empty one (the API omits empty lists)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayloadError(f"{where} is {kind_of(value)}, expected a list")
    return value


def objects_at(value: object, where: str) -> list[dict[str, Any]]:
    """A list whose every item must be an object, e.g. tasks[]."""
    items = list_at(value, where)
    for index, item in enumerate(items):
        if not isinstance(item, dict):  # the place is only spelled out for the error
            require_object(item, f"{where}[{index}]")
    return items


def table_row(table: Table, **values: Any) -> dict[str, Any]:
    """A row with exactly the table's columns in table order, so outputs never drift from schema.py."""
    unknown = set(values) - set(table.column_names)
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    return {name: values.get(name) for name in table.column_names}

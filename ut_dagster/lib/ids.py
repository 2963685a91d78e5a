"""Validation of the IDs that go into URLs, object-store keys and SQL.

UserTesting IDs are UUIDs. Anything else is refused before a request is made, so a typo costs no
API budget and a hostile value can never reach a path, a URL or a query.
"""

from __future__ import annotations

import re

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class InvalidIdError(ValueError):
    """An ID that is not a UUID."""


def validate_id(value: object, kind: str = "ID") -> str:
    """Return `value` unchanged if it is a UUID; otherwise raise InvalidIdError saying what was wrong."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise InvalidIdError(
            f"{shown} is not a valid UserTesting {kind}: expected a UUID such as "
            "'3fa85f64-5717-4562-b3fc-2c963f66afa6' (copy it from the test's URL or results page)."
        )
    return value


def validate_test_id(value: object) -> str:
    return validate_id(value, "test ID")


def validate_session_id(value: object) -> str:
    return validate_id(value, "session ID")

"""The IDs that go into URLs, object-store keys and SQL: `TestId`, `SessionId`, `WorkspaceId`.

UserTesting IDs are UUIDs. A raw value becomes one of these types once, where it enters (a CLI
argument, a partition key, a sensor cursor, an API response, a landed file name), and the typed value
is passed on. Constructing one is the only way to get one, so code that builds a path, URL or query
from a `TestId` needs no second check: `TestId(x)` of a `TestId` returns it unchanged without
re-matching, and anything else is matched (so a raw string passed by mistake is still refused before
it reaches a path, a URL or a query). A typo therefore costs no API budget.

A UUID is the same in any case, so the typed value is always the lower-case form: an ID pasted in
upper case names the same test (one partition, one landing folder, one set of rows), not a second one.

They are `str`s everywhere (f-strings, dict keys, JSON). Hand libraries that look at the exact type a
plain `str(...)`: Snowflake's connector refuses to bind a parameter of type "TestId", and Dagster
keeps the very object it is given as a partition key.
"""

from __future__ import annotations

import re
from typing import ClassVar, Self

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class InvalidIdError(ValueError):
    """An ID that is not a UUID."""


class _Uuid(str):
    __slots__ = ()
    kind: ClassVar[str] = "ID"

    def __new__(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value  # matched when it was made
        if not isinstance(value, str) or not _UUID.fullmatch(value):
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            raise InvalidIdError(
                f"{shown} is not a valid UserTesting {cls.kind}: expected a UUID such as "
                "'3fa85f64-5717-4562-b3fc-2c963f66afa6' (copy it from the test's URL or results page)."
            )
        return super().__new__(cls, value.lower())


class TestId(_Uuid):
    __slots__ = ()
    __test__ = False  # a name pytest would otherwise try to collect
    kind = "test ID"


class SessionId(_Uuid):
    __slots__ = ()
    kind = "session ID"


class WorkspaceId(_Uuid):
    __slots__ = ()
    kind = "workspace ID"

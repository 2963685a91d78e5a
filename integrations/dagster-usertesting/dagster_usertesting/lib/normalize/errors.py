"""The one error the normalizers raise for payloads they cannot interpret."""

from __future__ import annotations


class MalformedPayloadError(ValueError):
    """A payload whose structure cannot be interpreted at all.

    Unfamiliar but well-formed payloads (new enum values, unknown answer shapes, nulls) never raise:
    this is kept for a payload that is not the documented kind of thing (a list where an object must
    be, a string where a list must be, text that is not WebVTT), so the message says what and where.
    """


def kind_of(value: object) -> str:
    """JSON-flavoured name of a value's type, for messages a user reads ("a string", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"

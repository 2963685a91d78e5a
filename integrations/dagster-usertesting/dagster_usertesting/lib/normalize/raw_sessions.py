"""Session listing items (GET /api/v2/sessionResults) to RAW_SESSIONS rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dagster_usertesting.lib.normalize.errors import MalformedPayloadError, kind_of
from dagster_usertesting.lib.normalize.values import as_str, require_object, table_row, valid_text
from dagster_usertesting.lib.schema import RAW_SESSIONS

# The range a datetime64[ns] column can hold. Sentinels such as 0001-01-01 or 9999-12-31 are
# placeholders, not times, and would overflow the frame, so they read as "no time".
_EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)
_LATEST = datetime(2262, 1, 1, tzinfo=UTC)


def parse_api_time(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an ISO 8601 string such as "2024-11-21T12:23:52.614Z".

    Times without an offset are taken as UTC (the API documents every time as UTC). Null, non-strings,
    unparseable text and out-of-range placeholders give None: a bad time must not stop a sync.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    # fromisoformat accepts "Z" since 3.11 but not lowercase "z", which some serializers emit.
    if text[-1] == "z":
        text = text[:-1] + "Z"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed if _EARLIEST <= parsed < _LATEST else None


def listing_rows(test_id: str, sessions: Iterable[object], extracted_at: datetime) -> list[dict[str, Any]]:
    """One RAW_SESSIONS row per distinct sessionId, in listing order.

    Paging by offset while new sessions arrive shifts later pages, so the same session can be listed
    twice; the first occurrence wins. A session without a string sessionId cannot be fetched or
    keyed, and the field is required by the spec, so it raises rather than being dropped silently;
    so does one that is not valid Unicode text (a lone surrogate escape), which no warehouse can key.
    """
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(sessions):
        where = f"sessions[{index}]"
        session = require_object(item, where)
        session_id = session.get("sessionId")
        if not isinstance(session_id, str) or not session_id.strip():
            raise MalformedPayloadError(
                f"{where}.sessionId is {kind_of(session_id)}, expected a non-empty string"
            )
        if valid_text(session_id) != session_id:
            # Replacing the lone surrogate would key the session under an ID the API does not know.
            raise MalformedPayloadError(f"{where}.sessionId {session_id!r} is not valid Unicode text")
        if session_id in seen:
            continue
        seen.add(session_id)
        rows.append(
            table_row(
                RAW_SESSIONS,
                test_id=test_id,
                session_id=session_id,
                status=as_str(session.get("status")),
                start_time=parse_api_time(session.get("startTime")),
                finish_time=parse_api_time(session.get("finishTime")),
                audience_id=as_str(session.get("audienceId")),
                extracted_at=extracted_at,
            )
        )
    return rows

"""A v3 session result (GET /api/v3/sessionResults/{sessionId}) to rows of the session tables.

`session_rows` is what a sync does with each body it fetches or reads back from the landing area:
the served text kept whole for session_details, the payload parsed into rows of the four tables
below it, every row a tuple in its table's column order (`detail_frames.py` frames many sessions).

Every row carries the session_id the listing gave us (the payload's own sessionId is nullable) and
the participant_id, so tasks and task groups join to demographics without going through sessions.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from dagster_usertesting.lib.normalize.answers import answer_text, nps_score, rating_value
from dagster_usertesting.lib.normalize.errors import MalformedPayloadError
from dagster_usertesting.lib.normalize.values import (
    as_bool,
    as_int,
    as_percentage,
    as_str,
    json_text,
    object_at,
    objects_at,
    require_object,
    valid_text,
)
from dagster_usertesting.lib.schema import DEMOGRAPHICS, SESSION_DETAILS, SESSIONS, TASK_GROUPS, TASKS

Row = tuple[Any, ...]
# A session's rows by table name, each a tuple in its table's column order.
SessionRows = dict[str, list[Row]]


def session_rows(test_id: str, session_id: str, body: bytes, extracted_at: datetime) -> SessionRows:
    """The rows of session_details, sessions, demographics, task_groups and tasks of one session,
    from its details body as served (as landed); MalformedPayloadError as `read_details` and
    `details_tuples` say."""
    text, payload = read_details(session_id, body)
    session, demographics, task_groups, tasks = details_tuples(test_id, session_id, payload, extracted_at)
    return {
        SESSION_DETAILS.name: [(test_id, session_id, text, extracted_at)],
        SESSIONS.name: [session],
        DEMOGRAPHICS.name: demographics,
        TASK_GROUPS.name: task_groups,
        TASKS.name: tasks,
    }


def read_details(session_id: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """A details response body as served (as landed): its JSON text, and the payload that text holds.

    The text is the body's bytes decoded, so `details_json` holds what the landing area holds, not a
    re-encoding. A leading BOM is left out of it: it marks the encoding, it is not JSON text (RFC 8259
    lets a parser ignore it; warehouse JSON parsers refuse it).

    Every way a body can be unreadable is a MalformedPayloadError naming the session, so a caller
    catching ValueError records a failed session instead of failing the whole test: bytes that are
    not UTF-8 (json.loads would take UTF-16 bytes, which a text column cannot hold as served), text
    that is not JSON, nesting deeper than the parser's recursion limit (a RecursionError, not a
    ValueError), JSON that is not an object.
    """
    where = f"session {session_id}: the details body"
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise MalformedPayloadError(f"{where} is not UTF-8 text: {error}") from error
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedPayloadError(f"{where} is not JSON: {error}") from error
    except RecursionError as error:
        raise MalformedPayloadError(f"{where} is nested too deeply to read") from error
    return text, require_object(payload, f"session {session_id}: the details payload")


# Rows are built as tuples in these orders (one allocation per row, no per-row key checks) and
# framed column by column (frame_from_tuples); the check below makes a column added to or moved in
# schema.py fail at import instead of shifting values into the wrong columns.
_SESSION_FIELDS = (
    "test_id",
    "session_id",
    "participant_id",
    "audience_id",
    "test_plan_id",
    "task_count",
    "task_group_count",
    "demographic_count",
    "extracted_at",
)
_DEMOGRAPHIC_FIELDS = (
    "test_id",
    "session_id",
    "participant_id",
    "demographic_id",
    "demographic_code",
    "label",
    "value",
    "values_json",
    "type",
    "position",
    "extracted_at",
)
_TASK_GROUP_FIELDS = (
    "test_id",
    "session_id",
    "participant_id",
    "task_group_uuid",
    "task_group_type",
    "task_group_response",
    "qx_score",
    "comparison_sequence",
    "position",
    "extracted_at",
)
_DETAILS_FIELDS = ("test_id", "session_id", "details_json", "extracted_at")
_TASK_FIELDS = (
    "test_id",
    "session_id",
    "participant_id",
    "task_uuid",
    "task_text",
    "task_type",
    "position",
    "start_time_ms",
    "end_time_ms",
    "duration_ms",
    "skipped",
    "answer_json",
    "nps_score",
    "rating_value",
    "answer_text",
    "extracted_at",
)
for _table, _fields in (
    (SESSION_DETAILS, _DETAILS_FIELDS),
    (SESSIONS, _SESSION_FIELDS),
    (DEMOGRAPHICS, _DEMOGRAPHIC_FIELDS),
    (TASK_GROUPS, _TASK_GROUP_FIELDS),
    (TASKS, _TASK_FIELDS),
):
    if list(_fields) != _table.column_names:
        raise ImportError(
            f"normalize/details.py builds {_table.name} rows as {_fields}; schema.py says "
            f"{_table.column_names}: update the tuple builders together with the schema"
        )

Tuples = tuple[Row, list[Row], list[Row], list[Row]]


def details_tuples(test_id: str, session_id: str, payload: object, extracted_at: datetime) -> Tuples:
    """Rows of sessions, demographics, task_groups and tasks, as tuples in table column order:
    (session, demographics, groups, tasks).

    Nulls anywhere (sessionParticipant, response, answer, any field) give null columns; only a
    structure that cannot be read (a list where an object belongs, a task that is a string) raises
    MalformedPayloadError naming the session and the place.
    """
    context = f"session {session_id}"
    details = require_object(payload, f"{context}: the details payload")
    participant = object_at(details.get("sessionParticipant"), f"{context}: sessionParticipant") or {}
    demographics = objects_at(
        participant.get("demographicsInfo"), f"{context}: sessionParticipant.demographicsInfo"
    )
    task_groups = objects_at(details.get("taskGroups"), f"{context}: taskGroups")
    tasks = objects_at(details.get("tasks"), f"{context}: tasks")

    participant_id = _str(participant.get("participantId"))
    keys = (test_id, session_id, participant_id)
    session = (
        *keys,
        _str(details.get("audienceId")),
        _str(details.get("testPlanId")),
        len(tasks),
        len(task_groups),
        len(demographics),
        extracted_at,
    )
    return (
        session,
        [
            _demographic_row(keys, index, item, extracted_at, context)
            for index, item in enumerate(demographics)
        ],
        [_task_group_row(keys, index, item, extracted_at, context) for index, item in enumerate(task_groups)],
        [_task_row(keys, index, item, extracted_at, context) for index, item in enumerate(tasks)],
    )


def demographic_values(value: object, question_type: str | None) -> list[str] | None:
    """The answer as a list of selections, or None when there is no answer.

    Only multiple-choice questions are split on commas: single-choice answers such as
    "$50,000 - $74,999" contain commas of their own. Values are stripped and empty pieces dropped.
    """
    if value is None:
        return None
    if isinstance(value, list):
        items = [as_str(item) for item in value if item is not None]
        return [item.strip() for item in items if item and item.strip()]
    text = as_str(value) or ""
    pieces = text.split(",") if _is_type(question_type, "MULTIPLE", suffix=True) else [text]
    return [piece.strip() for piece in pieces if piece.strip()]


def _str(value: object) -> str | None:
    # as_str with the common cases (null, a string) first: it runs for most columns of every row.
    if value is None:
        return None
    if value.__class__ is str:
        # ASCII (the usual case) cannot hold a lone surrogate: valid_text only for the rest.
        return value if value.isascii() else valid_text(value)  # type: ignore[union-attr,arg-type]
    return as_str(value)


def _demographic_row(
    keys: tuple[Any, ...], position: int, item: dict[str, Any], extracted_at: datetime, context: str
) -> tuple[Any, ...]:
    question_type = _str(item.get("type"))
    value = item.get("value")
    return (
        *keys,
        _str(item.get("id")),
        _str(item.get("code")),
        _str(item.get("label")),
        _str(value),
        json_text(
            demographic_values(value, question_type),
            lambda: f"{context}: sessionParticipant.demographicsInfo[{position}].value",
        ),
        question_type,
        position,
        extracted_at,
    )


def _task_group_row(
    keys: tuple[Any, ...], position: int, item: dict[str, Any], extracted_at: datetime, context: str
) -> tuple[Any, ...]:
    group_type = _str(item.get("type"))
    response = item.get("response")
    # `response` is kept whole whatever it is; typed columns only read the documented shapes.
    fields = response if isinstance(response, dict) else {}
    qx_score = as_percentage(fields.get("score")) if _is_type(group_type, "QX_SCORE") else None
    sequence = None
    if _is_type(group_type, "BALANCED_COMPARISON"):
        sequence = _sequence(fields.get("sequence"))
    return (
        *keys,
        _str(item.get("uuid")),
        group_type,
        json_text(response, lambda: f"{context}: taskGroups[{position}].response"),
        qx_score,
        sequence,
        position,
        extracted_at,
    )


def _task_row(
    keys: tuple[Any, ...], position: int, item: dict[str, Any], extracted_at: datetime, context: str
) -> tuple[Any, ...]:
    response = item.get("response")
    if response is None:
        response = {}
    elif not isinstance(response, dict):
        require_object(response, f"{context}: tasks[{position}].response")
    start = as_int(response.get("startTimeMs"))
    end = as_int(response.get("endTimeMs"))
    answer = response.get("answer")
    if answer.__class__ is dict:
        # Only answers that are objects can hold the typed columns' keys; most hold one or none.
        nps = nps_score(answer) if "nps" in answer else None
        rating = rating_value(answer) if "ratingScale" in answer else None
        text = answer_text(answer) if "written" in answer or "multipleChoice" in answer else None
    elif isinstance(answer, dict):
        nps, rating, text = nps_score(answer), rating_value(answer), answer_text(answer)
    else:
        nps = rating = text = None
    return (
        *keys,
        _str(item.get("uuid")),
        _str(item.get("text")),
        _str(item.get("type")),
        position,
        start,
        end,
        _duration(start, end),
        as_bool(response.get("skipped")),
        json_text(answer, lambda: f"{context}: tasks[{position}].response.answer"),
        nps,
        rating,
        text,
        extracted_at,
    )


def _duration(start: int | None, end: int | None) -> int | None:
    # A task cannot end before it starts; a negative time on task would skew every average.
    if start is None or end is None or end < start:
        return None
    return end - start


def _sequence(value: object) -> str | None:
    if isinstance(value, str):
        return valid_text(value)
    # Tolerate the order served as a list of group labels, e.g. ["B", "A"] -> "BA".
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return valid_text("".join(value))
    return None


def _is_type(value: str | None, expected: str, *, suffix: bool = False) -> bool:
    if value is None:
        return False
    normalized = _normalized_type(value)
    return normalized.endswith(expected) if suffix else normalized == expected


@lru_cache(maxsize=1024)
def _normalized_type(value: str) -> str:
    # A handful of type names repeat on every row: normalize each once.
    return value.strip().upper()

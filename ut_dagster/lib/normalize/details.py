"""A v3 session result (GET /api/v3/sessionResults/{sessionId}) to rows of the session tables.

Every row carries the session_id the listing gave us (the payload's own sessionId is nullable) and
the participant_id, so tasks and task groups join to demographics without going through sessions.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ut_dagster.lib.normalize.answers import answer_text, nps_score, rating_value
from ut_dagster.lib.normalize.errors import MalformedPayloadError
from ut_dagster.lib.normalize.values import (
    as_bool,
    as_int,
    as_percentage,
    as_str,
    json_text,
    object_at,
    objects_at,
    require_object,
    table_row,
    valid_text,
)
from ut_dagster.lib.schema import DEMOGRAPHICS, SESSION_DETAILS, SESSIONS, TASK_GROUPS, TASKS

DETAIL_TABLES = (SESSIONS, DEMOGRAPHICS, TASK_GROUPS, TASKS)


def parse_details(session_id: str, body: bytes | str) -> dict[str, Any]:
    """The payload of a details response body as served (or of its stored `details_json` text).

    Every way a body can be unreadable is a MalformedPayloadError naming the session, so a caller
    catching ValueError records a failed session instead of failing the whole test: bytes that are
    not UTF-8 (json.loads would take UTF-16 bytes, which the details_json text then cannot hold),
    text that is not JSON, nesting deeper than the parser's recursion limit (a RecursionError,
    not a ValueError), JSON that is not an object. A leading BOM is ignored, as RFC 8259 allows.
    """
    where = f"session {session_id}: the details body"
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedPayloadError(f"{where} is not UTF-8 text: {error}") from error
    try:
        payload = json.loads(body.removeprefix("\ufeff"))
    except json.JSONDecodeError as error:
        raise MalformedPayloadError(f"{where} is not JSON: {error}") from error
    except RecursionError as error:
        raise MalformedPayloadError(f"{where} is nested too deeply to read") from error
    return require_object(payload, f"session {session_id}: the details payload")


def session_details_row(
    test_id: str, session_id: str, payload: object, extracted_at: datetime
) -> dict[str, Any]:
    """The SESSION_DETAILS row: the whole payload as JSON text, for re-deriving tables later."""
    details = require_object(payload, f"session {session_id}: the details payload")
    return table_row(
        SESSION_DETAILS,
        test_id=test_id,
        session_id=session_id,
        details_json=json_text(details, f"session {session_id}: the details payload"),
        extracted_at=extracted_at,
    )


def details_rows(
    test_id: str, session_id: str, payload: object, extracted_at: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Rows for "sessions", "demographics", "task_groups" and "tasks" (keys are table names).

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

    keys: dict[str, Any] = {
        "test_id": test_id,
        "session_id": session_id,
        "participant_id": as_str(participant.get("participantId")),
        "extracted_at": extracted_at,
    }
    session = table_row(
        SESSIONS,
        **keys,
        audience_id=as_str(details.get("audienceId")),
        test_plan_id=as_str(details.get("testPlanId")),
        task_count=len(tasks),
        task_group_count=len(task_groups),
        demographic_count=len(demographics),
    )
    return {
        SESSIONS.name: [session],
        DEMOGRAPHICS.name: [
            _demographic_row(keys, index, item, f"{context}: sessionParticipant.demographicsInfo[{index}]")
            for index, item in enumerate(demographics)
        ],
        TASK_GROUPS.name: [
            _task_group_row(keys, index, item, f"{context}: taskGroups[{index}]")
            for index, item in enumerate(task_groups)
        ],
        TASKS.name: [
            _task_row(keys, index, item, f"{context}: tasks[{index}]") for index, item in enumerate(tasks)
        ],
    }


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


def _demographic_row(keys: dict[str, Any], position: int, item: dict[str, Any], where: str) -> dict[str, Any]:
    question_type = as_str(item.get("type"))
    return table_row(
        DEMOGRAPHICS,
        **keys,
        demographic_id=as_str(item.get("id")),
        demographic_code=as_str(item.get("code")),
        label=as_str(item.get("label")),
        value=as_str(item.get("value")),
        values_json=json_text(demographic_values(item.get("value"), question_type), f"{where}.value"),
        type=question_type,
        position=position,
    )


def _task_group_row(keys: dict[str, Any], position: int, item: dict[str, Any], where: str) -> dict[str, Any]:
    group_type = as_str(item.get("type"))
    response = item.get("response")
    # `response` is kept whole whatever it is; typed columns only read the documented shapes.
    fields = response if isinstance(response, dict) else {}
    qx_score = as_percentage(fields.get("score")) if _is_type(group_type, "QX_SCORE") else None
    sequence = None
    if _is_type(group_type, "BALANCED_COMPARISON"):
        sequence = _sequence(fields.get("sequence"))
    return table_row(
        TASK_GROUPS,
        **keys,
        task_group_uuid=as_str(item.get("uuid")),
        task_group_type=group_type,
        task_group_response=json_text(response, f"{where}.response"),
        qx_score=qx_score,
        comparison_sequence=sequence,
        position=position,
    )


def _task_row(keys: dict[str, Any], position: int, item: dict[str, Any], where: str) -> dict[str, Any]:
    response = object_at(item.get("response"), f"{where}.response") or {}
    start = as_int(response.get("startTimeMs"))
    end = as_int(response.get("endTimeMs"))
    answer = response.get("answer")
    return table_row(
        TASKS,
        **keys,
        task_uuid=as_str(item.get("uuid")),
        task_text=as_str(item.get("text")),
        task_type=as_str(item.get("type")),
        position=position,
        start_time_ms=start,
        end_time_ms=end,
        duration_ms=_duration(start, end),
        skipped=as_bool(response.get("skipped")),
        answer_json=json_text(answer, f"{where}.response.answer"),
        nps_score=nps_score(answer),
        rating_value=rating_value(answer),
        answer_text=answer_text(answer),
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
    normalized = value.strip().upper()
    return normalized.endswith(expected) if suffix else normalized == expected

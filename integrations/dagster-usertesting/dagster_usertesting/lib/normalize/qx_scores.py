"""A test's QXscore summary (GET /api/v2/testResults/{testId}/qxScores) to QX_SCORES rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagster_usertesting.lib.normalize.values import (
    as_int,
    as_percentage,
    as_str,
    json_text,
    object_at,
    objects_at,
    require_object,
    table_row,
)
from dagster_usertesting.lib.schema import QX_SCORES


def qx_score_rows(test_id: str, payload: object, extracted_at: datetime) -> list[dict[str, Any]]:
    """One row per `qxScores[]` item, with the response's `meta` counts repeated on each.

    Scores outside 0-100 are null in the typed columns (they are documented as percentages);
    `qx_json` keeps the item exactly as served either way.
    """
    context = f"test {test_id} QXscores"
    response = require_object(payload, f"{context}: the payload")
    items = objects_at(response.get("qxScores"), f"{context}: qxScores")
    meta = object_at(response.get("meta"), f"{context}: meta") or {}
    completes = as_int(meta.get("completes"))
    total_qx_tasks = as_int(meta.get("totalQxTasks"))

    rows = []
    for index, item in enumerate(items):
        where = f"{context}: qxScores[{index}]"
        components = _fields(item.get("components"))
        values = _fields(item.get("values"))
        rows.append(
            table_row(
                QX_SCORES,
                test_id=test_id,
                task_group_id=as_str(item.get("taskGroupId")),
                label=as_str(item.get("label")),
                qx_score=as_percentage(item.get("qxScore")),
                behavioral=as_percentage(components.get("behavioral")),
                attitudinal=as_percentage(components.get("attitudinal")),
                usability=as_percentage(values.get("usability")),
                trust=as_percentage(values.get("trust")),
                appearance=as_percentage(values.get("appearance")),
                loyalty=as_percentage(values.get("loyalty")),
                behavioral_values_json=json_text(values.get("behavioral"), f"{where}.values.behavioral"),
                completes=completes,
                total_qx_tasks=total_qx_tasks,
                qx_json=json_text(item, where),
                extracted_at=extracted_at,
            )
        )
    return rows


def _fields(value: object) -> dict[str, Any]:
    # components/values are sub-objects of a score; an odd shape there leaves their columns null
    # rather than failing the whole test's scores.
    return value if isinstance(value, dict) else {}

"""The v3 session detail payload and the per-test QXscore summary.

Each session's payload comes from its own seeded RNG, so it is the same whenever and in whatever order
it is built. Edge cases a client must survive are guaranteed at fixed session ordinals (see `_EDGE`)
and also occur at random elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random
from statistics import fmean
from typing import Any

from .config import INTERACTION, LIVE_CONVERSATION
from .models import QxGroup, SessionRecord, Study, new_uuid
from .tasks import ANSWER_KEYS, build_answer

SINGLE, MULTIPLE = "DEMOGRAPHIC_QUESTION_TYPE_SINGLE", "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE"

_DEMOGRAPHICS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("GENDER", "What is your gender?", SINGLE, ("Female", "Male", "Non-binary", "Prefer not to say")),
    ("AGE_GROUP", "What is your age?", SINGLE, ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")),
    ("COUNTRY", "Where do you live?", SINGLE, ("United States", "Deutschland", "México", "日本")),
    # Commas inside single values: splitting on commas is only right for the MULTIPLE type.
    (
        "INCOME",
        "What is your household income?",
        SINGLE,
        ("Under $25,000", "$25,000\u2013$99,999", "$100,000+"),
    ),
    (
        "INTERESTS",
        "Which topics interest you?",
        MULTIPLE,
        ("Technology", "Travel", "Cooking", "Sports", "Gaming"),
    ),
    (
        "DEVICES",
        "Which devices do you own?",
        MULTIPLE,
        ("iPhone", "Android phone", "Windows PC", "Mac", "Tablet"),
    ),
    (
        "EMPLOYMENT",
        "What is your employment status?",
        "UNRECOGNIZED",
        ("Self-employed", "Full-time", "Student"),
    ),
)

# Session ordinal -> the edge case every study with that many sessions is sure to contain.
_EDGE = {
    2: "extra_answer_key",
    3: "no_participant",
    4: "no_participant_id",
    5: "mismatched_answer_key",
    6: "no_demographics",
    8: "null_demographic",
    10: "unreached_and_skipped",
    11: "null_answer",
}
_QX_FIELDS = ("usability", "trust", "appearance", "loyalty")


def _demographics(seed: int, rng: Random, edge: str | None) -> list[dict[str, Any]]:
    if edge == "no_demographics":
        return []
    items = []
    for index, (code, label, kind, values) in enumerate(_DEMOGRAPHICS):
        if index >= 3 and rng.random() < 0.5:
            continue
        picked = rng.sample(values, rng.randint(1, 3)) if kind == MULTIPLE else [rng.choice(values)]
        item: dict[str, Any] = {
            "id": new_uuid(Random(f"{seed}:demographic:{code}")),
            "code": code,
            "label": label,
            "value": ", ".join(picked),
            "type": kind,
        }
        for key in item:
            if rng.random() < 0.01:
                item[key] = None
        items.append(item)
    if edge == "null_demographic":
        items.append(dict.fromkeys(("id", "code", "label", "value", "type")))
    return items


def _participant(
    seed: int, rng: Random, participants: Sequence[str], edge: str | None
) -> dict[str, Any] | None:
    if edge == "no_participant" or rng.random() < 0.03:
        return None
    pid = None if edge == "no_participant_id" or rng.random() < 0.03 else rng.choice(participants)
    return {"participantId": pid, "demographicsInfo": _demographics(seed, rng, edge)}


def qx_session_values(seed: int, session_id: str, group: QxGroup, ordinal: int) -> dict[str, Any] | None:
    """One participant's QXscore for one task group, with the parts it is computed from."""
    rng = Random(f"{seed}:qx:{session_id}:{group.uuid}")
    if ordinal == 5 or rng.random() < 0.1:
        return None  # did not answer the QX questionnaire
    parts = {name: round(rng.uniform(35, 98), 1) for name in _QX_FIELDS}
    behavioral = [float(rng.choice((0, 50, 100, 100))) for _ in range(group.navigational_tasks)] or None
    attitudinal = fmean(parts.values())
    score = (fmean(behavioral) + attitudinal) / 2 if behavioral else attitudinal
    return {"score": round(score), "values": {"behavioral": behavioral, **parts}}


def _task_groups(seed: int, study: Study, record: SessionRecord, rng: Random) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for group in study.qx_groups:
        values = qx_session_values(seed, record.session_id, group, record.ordinal)
        response = {"score": values["score"]} if values else None
        groups.append({"uuid": group.uuid, "type": "QX_SCORE", "response": response})
    if study.balanced_comparison_group:
        sequence = {"sequence": rng.choice(("AB", "BA"))}
        groups.append(
            {"uuid": study.balanced_comparison_group, "type": "BALANCED_COMPARISON", "response": sequence}
        )
    if study.kind == INTERACTION and record.ordinal % 9 == 7:
        groups.append({"uuid": new_uuid(rng), "type": "UNRECOGNIZED", "response": None})
    return groups


def _tasks(study: Study, record: SessionRecord, rng: Random, edge: str | None) -> list[dict[str, Any]]:
    if study.kind == LIVE_CONVERSATION and record.ordinal == 1:
        return []
    answerable = [
        i for i, t in enumerate(study.tasks) if t.type in ANSWER_KEYS and t.type not in ("BLANK", "WRITTEN")
    ]
    anomaly_at = answerable[0] if answerable else -1
    items, clock = [], rng.randint(2000, 8000)
    for index, task in enumerate(study.tasks):
        item: dict[str, Any] = {"uuid": task.uuid, "text": task.text, "type": task.type, "response": None}
        items.append(item)
        if (edge == "unreached_and_skipped" and index == 1) or rng.random() < 0.03:
            continue  # the participant never reached this task
        skipped = task.type != "BLANK" and (
            rng.random() < 0.07 or (edge == "unreached_and_skipped" and index == 2)
        )
        duration = rng.randint(1500, 9000) if skipped else rng.randint(4000, 150000)
        anomaly = None
        if index == anomaly_at and edge in ("extra_answer_key", "mismatched_answer_key"):
            anomaly = "extra" if edge == "extra_answer_key" else "mismatch"
        answer = None if skipped else build_answer(task, rng, study.answer_style, anomaly)
        if (edge == "null_answer" and index == 0) or rng.random() < 0.02:
            answer = None
        item["response"] = {
            "startTimeMs": clock,
            "endTimeMs": clock + duration,
            "skipped": skipped,
            "answer": answer,
        }
        clock += duration + rng.randint(200, 4000)
    return items


def session_payload(
    seed: int, study: Study, record: SessionRecord, participants: Sequence[str]
) -> dict[str, Any]:
    """GET /api/v3/sessionResults/{sessionId} for one session."""
    rng = Random(f"{seed}:v3:{record.session_id}")
    edge = _EDGE.get(record.ordinal)
    return {
        "sessionId": record.session_id,
        "audienceId": record.audience_id,
        "testPlanId": study.test_plan_id,
        "sessionParticipant": _participant(seed, rng, participants, edge),
        "taskGroups": _task_groups(seed, study, record, rng),
        "tasks": _tasks(study, record, rng, edge),
    }


def _mean(values: list[float]) -> float:
    return round(fmean(values), 1) if values else 0.0


def qx_scores(seed: int, study: Study, sessions: Sequence[SessionRecord]) -> dict[str, Any]:
    """GET /api/v2/testResults/{testId}/qxScores: averages over the test's completed sessions."""
    items = []
    for group in study.qx_groups:
        found = [v for r in sessions if (v := qx_session_values(seed, r.session_id, group, r.ordinal))]
        behavioral = None
        if group.navigational_tasks and found:
            behavioral = [
                _mean([v["values"]["behavioral"][i] for v in found]) for i in range(group.navigational_tasks)
            ]
        parts = {name: _mean([v["values"][name] for v in found]) for name in _QX_FIELDS}
        items.append(
            {
                "taskGroupId": group.uuid,
                "label": group.label,
                "qxScore": _mean([v["score"] for v in found]) if found else None,
                "components": {
                    "behavioral": _mean(behavioral) if behavioral else None,
                    "attitudinal": _mean(list(parts.values())),
                },
                "values": {"behavioral": behavioral, **parts},
            }
        )
    meta = {"totalQxTasks": len(study.qx_groups), "completes": len(sessions)}
    return {"testId": study.test_id, "qxScores": items, "meta": meta}

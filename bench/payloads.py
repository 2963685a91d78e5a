"""Generated v3 session payloads for the normalize benchmarks: every task type, nulls, unknown types,
nasty strings.

The sandbox's generator supplies realistic payloads (every product type and task type, null
participants, answers and responses, an unknown task type, extra answer keys); on top of that every
7th session gets strings a loader must carry byte for byte (quotes, backslashes, control
characters, emoji, right-to-left text, SQL and CSV lookalikes, a 20 kB answer) and every 11th an
unknown task type or group type and an answer of an unexpected shape.
"""

from __future__ import annotations

import json
from random import Random
from typing import Any

from dagster_usertesting.testing import (
    INTERACTION,
    LIVE_CONVERSATION,
    SURVEY,
    THINK_OUT_LOUD,
    Dataset,
    SandboxConfig,
)
from dagster_usertesting.testing.config import StudySpec

NASTY = (
    "",
    " ",
    "null",
    "None",
    "quote \" and ' and `back`",
    "back\\slash \\n not a newline",
    "line\nbreak\r\nand\ttab",
    "control \x01\x07\x1b\x7f",
    "emoji 🧪👩🏽‍💻 and ☕",
    "right-to-left مرحبا עברית",
    "日本語のテキスト",
    "'; DROP TABLE tasks; --",
    'a,b,"c",\nd',
    '{"looks": "like json"}',
    "x" * 5_000,
    "\u2028\u2029 line separators",
    "zero\u200bwidth",
)


def studies_for(total: int) -> tuple[StudySpec, ...]:
    """`total` sessions spread over the four product types."""
    kinds = (THINK_OUT_LOUD, INTERACTION, SURVEY, LIVE_CONVERSATION)
    share, extra = divmod(total, len(kinds))
    return tuple(
        StudySpec(kind, share + (1 if index < extra else 0), f"bench {kind.lower()}")
        for index, kind in enumerate(kinds)
    )


def _nastify(payload: dict[str, Any], rng: Random) -> None:
    for task in payload.get("tasks") or []:
        task["text"] = rng.choice(NASTY)
        response = task.get("response")
        if isinstance(response, dict):
            response["answer"] = {"written": {"text": rng.choice(NASTY)}, "other": rng.choice(NASTY)}
    participant = payload.get("sessionParticipant")
    if isinstance(participant, dict):
        for item in participant.get("demographicsInfo") or []:
            item["label"] = rng.choice(NASTY)
            item["value"] = rng.choice(NASTY)


def _unknown(payload: dict[str, Any], rng: Random) -> None:
    tasks = payload.get("tasks") or []
    if tasks:
        tasks[0]["type"] = "HOLOGRAM_INTERVIEW"
        tasks[0]["response"] = {
            "startTimeMs": 15000.0,
            "endTimeMs": "17000",
            "skipped": "false",
            "answer": {"hologram": [{"depth": 1.5, "frames": [1, 2, None]}], "nps": {"score": 7.0}},
            "unexpectedField": True,
        }
    groups = payload.setdefault("taskGroups", [])
    groups.append({"uuid": f"unknown-{rng.random()}", "type": "FUTURE_GROUP", "response": [1, "two", None]})
    payload["unexpectedTopLevel"] = {"nested": [None, {"deep": "value"}]}


def generate(total: int, seed: int = 11) -> list[tuple[str, str, bytes]]:
    """(test_id, session_id, JSON bytes as landed) for `total` sessions."""
    dataset = Dataset(SandboxConfig(seed=seed, studies=studies_for(total), legacy_studies=0))
    rng = Random(seed)
    out = []
    index = 0
    for test_id in dataset.test_ids:
        for session_id in dataset.session_ids(test_id):
            payload = dataset.payload(session_id)
            if index % 7 == 3:
                _nastify(payload, rng)
            if index % 11 == 5:
                _unknown(payload, rng)
            index += 1
            out.append((test_id, session_id, json.dumps(payload, ensure_ascii=False).encode()))
    return out

"""What the sandbox serves about a session (v3 payload) and a test (QXscores); media.py has the rest.

Everything comes from RNGs seeded per session, so it is the same whatever the order it is made in. Edge
cases a client must survive sit at fixed session ordinals (so every big-enough test has each one) and
also occur at random. The inside of each `answer` key is undocumented: these shapes are invented, and a
client must keep `answer` whole and tolerate anything (including the unlisted task type CARD_SORT).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from random import Random
from statistics import fmean
from typing import Any

from .config import INTERACTION, LIVE_CONVERSATION, SURVEY, THINK_OUT_LOUD
from .records import QxGroup, SessionRecord, Study, TaskDef


def new_uuid(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def to_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# -- tasks and answers ----------------------------------------------------------------------------

FUTURE_TASK_TYPES = frozenset({"CARD_SORT"})
# Real participants type accents, emoji, CJK, commas, quotes and markup.
WRITTEN_ANSWERS = (
    "The checkout felt quick, but I wasn't sure the coupon had been applied.",
    "Très clair, j'ai trouvé le bouton « Payer » tout de suite.",
    "Me gustó el diseño, aunque la página tardó en cargar.",
    "とても使いやすいです。でも文字が少し小さいです。",
    "Love it 😍 but the font is tiny 🔍",
    "Ich habe die Größentabelle nicht gefunden.",
    "한국어 지원이 있으면 좋겠어요.",
    'Not sure what "Klarna" means here… is that a bank?',
    "First impression: clean.\nSecond: where is the search box?",
    "Prices in € would help; I'm in Lisboa.",
    "It's fine. <3 the colours & the dark mode.",
    "",
)
# Per product type, one task a line: TYPE: text {params as JSON}.
_PLANS = {
    THINK_OUT_LOUD: """
URL: Go to shop.example.com and find running shoes in your size. {"url": "https://shop.example.com/"}
WRITTEN: What is your first impression of the home page? Think out loud.
FIGMA: Use the prototype to check out. Say what you expect at each step. {"figma": true}
RATING_SCALE: How easy or difficult was it to check out? {"scale": {"min": 1, "max": 5, "minLabel": "Very difficult", "maxLabel": "Very easy"}}
MULTIPLE_CHOICE: Which payment method would you use? {"options": ["Credit card", "PayPal", "Apple Pay", "Klarna — pay later", "Other"], "multi": false}
IMAGE: Look at this banner. What do you notice first? {"imageUrl": "https://cdn.example.com/banners/größe-%C3%9F.png"}
NPS: How likely are you to recommend this store to a friend or colleague?
BLANK: Thank you! You can stop sharing your screen now.
""",
    INTERACTION: """
URL: Open the banking app prototype and sign in with the test account. {"url": "https://bank.example.com/app?demo=1&lang=en"}
MULTIPLE_CHOICE: Which of these features do you use at least once a month? (up to 3) {"options": ["Transfers", "Card controls", "Statements", "Savings goals", "Crypto"], "multi": true, "maxLimit": 3, "randomized": true}
RATING_SCALE: This app is easy to use. {"scale": {"min": 1, "max": 5, "minLabel": "Strongly disagree", "maxLabel": "Strongly agree"}}
RATING_SCALE: I trust this app with my information. {"scale": {"min": 1, "max": 5, "minLabel": "Strongly disagree", "maxLabel": "Strongly agree"}}
RATING_SCALE: This app is visually appealing. {"scale": {"min": 1, "max": 5, "minLabel": "Strongly disagree", "maxLabel": "Strongly agree"}}
RATING_SCALE: I would use this app again. {"scale": {"min": 1, "max": 5, "minLabel": "Strongly disagree", "maxLabel": "Strongly agree"}}
MATRIX: Rate each part of the app. {"rows": ["Transfers", "Card controls", "Statements"], "columns": ["Poor", "Fair", "Good", "Excellent"]}
RANK_ORDER: Rank these features from most to least important. {"options": ["Instant transfers", "Spending insights", "Virtual cards", "Round-ups"]}
CARD_SORT: Sort these cards into groups that make sense to you. {"cards": ["Pay a friend", "Freeze card", "Download PDF", "Set a budget", "Change PIN"]}
UNRECOGNIZED: Record a short selfie video describing the app.
""",
    SURVEY: """
MULTIPLE_CHOICE: How often do you buy coffee out? {"options": ["Every day", "A few times a week", "Rarely", "Never"], "multi": false}
MULTIPLE_CHOICE: Which of these brands have you heard of? {"options": ["Brüh & Co.", "Kaffeeklatsch", "珈琲ハウス", "Café Olé", "None of these"], "multi": true, "randomized": true}
RATING_SCALE: How would you rate the packaging? {"scale": {"min": 1, "max": 7, "minLabel": "Terrible", "maxLabel": "Excellent"}}
NPS: How likely are you to recommend Brüh & Co. to a friend?
WRITTEN: In a few words, how would you describe the brand?
RANK_ORDER: Rank these flavours, favourite first. {"options": ["Chocolate", "Strawberry", "Vanilla", "Mint Chocolate", "Crème brûlée"]}
MATRIX: How much do you agree with each statement? {"rows": ["It's good value", "It's sustainable", "It's for people like me"], "columns": ["Disagree", "Neutral", "Agree"], "multi": true}
IMAGE: Which logo do you prefer? Look at both before answering. {"imageUrl": "https://cdn.example.com/logos/a-vs-b.png"}
BLANK: That's all. Thanks for your time! 🙏
""",
    LIVE_CONVERSATION: """
BLANK: Introductions and consent
URL: Walk through sign-up at app.example.com. {"url": "https://app.example.com/signup"}
WRITTEN: Moderator notes
""",
}


def task_plan(kind: str, rng: Random) -> tuple[TaskDef, ...]:
    tasks = []
    for line in _PLANS[kind].strip().splitlines():
        task_type, _, rest = line.partition(": ")
        text, _, params = rest.partition(" {")
        tasks.append(TaskDef(new_uuid(rng), task_type, text, json.loads("{" + params) if params else {}))
    return tuple(tasks)


def _choice(params: dict[str, Any], rng: Random) -> dict[str, Any]:
    options, multi, limit = params["options"], bool(params.get("multi")), params.get("maxLimit")
    selected = rng.sample(options, rng.randint(1, limit or len(options) - 1) if multi else 1)
    answer = {
        "selected": selected,
        "options": list(options),
        "multiSelect": multi,
        "randomizedOptions": bool(params.get("randomized")),
        "maxLimit": limit,
    }
    if "Other" in selected:
        answer["otherText"] = rng.choice(["Bank transfer", "Gift card 🎁", "Crédito da loja"])
    return answer


def _matrix(params: dict[str, Any], rng: Random) -> dict[str, Any]:
    columns, picks = params["columns"], 2 if params.get("multi") else 1
    selections = [
        {"row": row, "columns": rng.sample(columns, rng.randint(1, picks))} for row in params["rows"]
    ]
    return {"rows": list(params["rows"]), "columns": list(columns), "selections": selections}


def _card_sort(params: dict[str, Any], rng: Random) -> dict[str, Any]:
    cards = list(params["cards"])
    rng.shuffle(cards)
    groups = [{"name": "Money", "cards": cards[:2]}, {"name": "Cartão & segurança", "cards": cards[2:4]}]
    return {"groups": groups, "unsortedCards": cards[4:]}


_FIGMA = {
    "prototypeUrl": "https://www.figma.com/proto/AbC123xyz/Checkout?node-id=1-2&scaling=scale-down",
    "figmaPrototypeTitle": "Checkout v3 — mobile",
    "figmaPrototypeDisplaySetting": "FIT_WIDTH",
}
# Task type -> its answer; the answer's key is the type in camelCase. Other types fill no key.
_ANSWERS: dict[str, Callable[[dict[str, Any], Random], dict[str, Any]]] = {
    "BLANK": lambda p, r: {},
    "RATING_SCALE": lambda p, r: {
        "value": r.randint(p["scale"]["min"], p["scale"]["max"]),
        "scale": dict(p["scale"]),
    },
    "MULTIPLE_CHOICE": _choice,
    "IMAGE": lambda p, r: {"imageUrl": p["imageUrl"], "viewedMs": r.randint(800, 15000)},
    "NPS": lambda p, r: {"score": r.choice([0, 3, 5, 6, 7, 7, 8, 8, 9, 9, 10, 10])},
    "URL": lambda p, r: {"url": p["url"], "visited": r.random() > 0.1, "durationMs": r.randint(2000, 90000)},
    "RANK_ORDER": lambda p, r: {"ranking": r.sample(p["options"], len(p["options"]))},
    "WRITTEN": lambda p, r: {"text": r.choice(WRITTEN_ANSWERS)},
    "FIGMA": lambda p, r: {**_FIGMA, "completed": r.random() > 0.2, "screensVisited": r.randint(1, 9)},
    "MATRIX": _matrix,
    "CARD_SORT": _card_sort,
}


def _answer_key(kind: str) -> str:
    first, *rest = kind.lower().split("_")
    return first + "".join(word.title() for word in rest)


ANSWER_KEYS = {kind: _answer_key(kind) for kind in _ANSWERS if kind not in FUTURE_TASK_TYPES}


def build_answer(task: TaskDef, rng: Random, style: str, anomaly: str | None = None) -> dict[str, Any]:
    """One task's `answer`: every key present ("dto" style) or only the filled one ("sparse").

    `anomaly` "extra" adds a written comment beside the real answer; "mismatch" files the answer under
    another type's key (as after a task was converted).
    """
    answer: dict[str, Any] = dict.fromkeys(ANSWER_KEYS.values()) if style == "dto" else {}
    if task.type in _ANSWERS:
        value = _ANSWERS[task.type](task.params, rng)
        key = _answer_key(task.type)
        if anomaly == "mismatch":
            key = "nps" if key != "nps" else "ratingScale"
        answer[key] = value
        if anomaly == "extra" and key != "written":
            answer["written"] = {"text": "(participant comment) Ça va, mais lent 🐢"}
    return answer


# -- the v3 session payload and the qxScores summary ----------------------------------------------

SINGLE, MULTIPLE = "DEMOGRAPHIC_QUESTION_TYPE_SINGLE", "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE"
_DEMOGRAPHICS = (  # code, label, type, values ("|"-separated)
    ("GENDER", "What is your gender?", SINGLE, "Female|Male|Non-binary|Prefer not to say"),
    ("AGE_GROUP", "What is your age?", SINGLE, "18-24|25-34|35-44|45-54|55-64|65+"),
    ("COUNTRY", "Where do you live?", SINGLE, "United States|Deutschland|México|日本"),
    # Commas inside single values: splitting on commas is only right for the MULTIPLE type.
    ("INCOME", "What is your household income?", SINGLE, "Under $25,000|$25,000\u2013$99,999|$100,000+"),
    ("INTERESTS", "Which topics interest you?", MULTIPLE, "Technology|Travel|Cooking|Sports|Gaming"),
    ("DEVICES", "Which devices do you own?", MULTIPLE, "iPhone|Android phone|Windows PC|Mac|Tablet"),
    ("EMPLOYMENT", "What is your employment status?", "UNRECOGNIZED", "Self-employed|Full-time|Student"),
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


def _participant(
    seed: int, rng: Random, participants: Sequence[str], edge: str | None
) -> dict[str, Any] | None:
    if edge == "no_participant" or rng.random() < 0.03:
        return None
    pid = None if edge == "no_participant_id" or rng.random() < 0.03 else rng.choice(participants)
    items = []
    for index, (code, label, kind, choices) in enumerate(_DEMOGRAPHICS if edge != "no_demographics" else ()):
        if index >= 3 and rng.random() < 0.5:
            continue
        values = choices.split("|")
        picked = rng.sample(values, rng.randint(1, 3)) if kind == MULTIPLE else [rng.choice(values)]
        item = {"id": new_uuid(Random(f"{seed}:demographic:{code}")), "code": code, "label": label}
        item |= {"value": ", ".join(picked), "type": kind}
        items.append({key: None if rng.random() < 0.01 else value for key, value in item.items()})
    if edge == "null_demographic":
        items.append(dict.fromkeys(("id", "code", "label", "value", "type")))
    return {"participantId": pid, "demographicsInfo": items}


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
        groups.append(
            {"uuid": group.uuid, "type": "QX_SCORE", "response": values and {"score": values["score"]}}
        )
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

"""Task plans per product type and the answers participants give.

The spec leaves the inside of each answer key undocumented, so these shapes are invented (a client must
keep `answer` whole and tolerate anything):

- blank:          {}
- ratingScale:    {"value": 4, "scale": {"min": 1, "max": 5, "minLabel": "...", "maxLabel": "..."}}
- multipleChoice: {"selected": ["PayPal"], "options": [...], "multiSelect": false,
                   "randomizedOptions": false, "maxLimit": null}  (+ "otherText" when "Other" is chosen)
- image:          {"imageUrl": "https://...", "viewedMs": 3200}
- nps:            {"score": 9}
- url:            {"url": "https://...", "visited": true, "durationMs": 41000}
- rankOrder:      {"ranking": ["Vanilla", "Chocolate", ...]}  (most preferred first)
- written:        {"text": "..."}  (may be empty, multi-line, emoji, CJK)
- figma:          {"prototypeUrl": "...", "figmaPrototypeTitle": "...",
                   "figmaPrototypeDisplaySetting": "FIT_WIDTH", "completed": true, "screensVisited": 6}
- matrix:         {"rows": [...], "columns": [...], "selections": [{"row": "...", "columns": ["Good"]}]}
- cardSort:       {"groups": [{"name": "...", "cards": [...]}], "unsortedCards": [...]}
                  (task type "CARD_SORT", a value the spec does not list yet: new types will come)
- UNRECOGNIZED tasks carry no filled key.
"""

from __future__ import annotations

from random import Random
from typing import Any

from .config import INTERACTION, LIVE_CONVERSATION, SURVEY, THINK_OUT_LOUD
from .models import TaskDef, new_uuid

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

ANSWER_KEYS = {
    "BLANK": "blank",
    "RATING_SCALE": "ratingScale",
    "MULTIPLE_CHOICE": "multipleChoice",
    "IMAGE": "image",
    "NPS": "nps",
    "URL": "url",
    "RANK_ORDER": "rankOrder",
    "WRITTEN": "written",
    "FIGMA": "figma",
    "MATRIX": "matrix",
}
DTO_ANSWER_KEYS = tuple(ANSWER_KEYS.values())
FUTURE_TASK_TYPES = frozenset({"CARD_SORT"})

_AGREE = {"min": 1, "max": 5, "minLabel": "Strongly disagree", "maxLabel": "Strongly agree"}
_FLAVOURS = ["Chocolate", "Strawberry", "Vanilla", "Mint Chocolate", "Crème brûlée"]

_PLANS: dict[str, tuple[tuple[str, str, dict[str, Any]], ...]] = {
    THINK_OUT_LOUD: (
        (
            "URL",
            "Go to shop.example.com and find running shoes in your size.",
            {"url": "https://shop.example.com/"},
        ),
        ("WRITTEN", "What is your first impression of the home page? Think out loud.", {}),
        ("FIGMA", "Use the prototype to check out. Say what you expect at each step.", {"figma": True}),
        (
            "RATING_SCALE",
            "How easy or difficult was it to check out?",
            {"scale": {"min": 1, "max": 5, "minLabel": "Very difficult", "maxLabel": "Very easy"}},
        ),
        (
            "MULTIPLE_CHOICE",
            "Which payment method would you use?",
            {
                "options": ["Credit card", "PayPal", "Apple Pay", "Klarna — pay later", "Other"],
                "multi": False,
            },
        ),
        (
            "IMAGE",
            "Look at this banner. What do you notice first?",
            {"imageUrl": "https://cdn.example.com/banners/größe-%C3%9F.png"},
        ),
        ("NPS", "How likely are you to recommend this store to a friend or colleague?", {}),
        ("BLANK", "Thank you! You can stop sharing your screen now.", {}),
    ),
    INTERACTION: (
        (
            "URL",
            "Open the banking app prototype and sign in with the test account.",
            {"url": "https://bank.example.com/app?demo=1&lang=en"},
        ),
        (
            "MULTIPLE_CHOICE",
            "Which of these features do you use at least once a month? (up to 3)",
            {
                "options": ["Transfers", "Card controls", "Statements", "Savings goals", "Crypto"],
                "multi": True,
                "maxLimit": 3,
                "randomized": True,
            },
        ),
        ("RATING_SCALE", "This app is easy to use.", {"scale": _AGREE}),
        ("RATING_SCALE", "I trust this app with my information.", {"scale": _AGREE}),
        ("RATING_SCALE", "This app is visually appealing.", {"scale": _AGREE}),
        ("RATING_SCALE", "I would use this app again.", {"scale": _AGREE}),
        (
            "MATRIX",
            "Rate each part of the app.",
            {
                "rows": ["Transfers", "Card controls", "Statements"],
                "columns": ["Poor", "Fair", "Good", "Excellent"],
            },
        ),
        (
            "RANK_ORDER",
            "Rank these features from most to least important.",
            {"options": ["Instant transfers", "Spending insights", "Virtual cards", "Round-ups"]},
        ),
        (
            "CARD_SORT",
            "Sort these cards into groups that make sense to you.",
            {"cards": ["Pay a friend", "Freeze card", "Download PDF", "Set a budget", "Change PIN"]},
        ),
        ("UNRECOGNIZED", "Record a short selfie video describing the app.", {}),
    ),
    SURVEY: (
        (
            "MULTIPLE_CHOICE",
            "How often do you buy coffee out?",
            {"options": ["Every day", "A few times a week", "Rarely", "Never"], "multi": False},
        ),
        (
            "MULTIPLE_CHOICE",
            "Which of these brands have you heard of?",
            {
                "options": ["Brüh & Co.", "Kaffeeklatsch", "珈琲ハウス", "Café Olé", "None of these"],
                "multi": True,
                "randomized": True,
            },
        ),
        (
            "RATING_SCALE",
            "How would you rate the packaging?",
            {"scale": {"min": 1, "max": 7, "minLabel": "Terrible", "maxLabel": "Excellent"}},
        ),
        ("NPS", "How likely are you to recommend Brüh & Co. to a friend?", {}),
        ("WRITTEN", "In a few words, how would you describe the brand?", {}),
        ("RANK_ORDER", "Rank these flavours, favourite first.", {"options": _FLAVOURS}),
        (
            "MATRIX",
            "How much do you agree with each statement?",
            {
                "rows": ["It's good value", "It's sustainable", "It's for people like me"],
                "columns": ["Disagree", "Neutral", "Agree"],
                "multi": True,
            },
        ),
        (
            "IMAGE",
            "Which logo do you prefer? Look at both before answering.",
            {"imageUrl": "https://cdn.example.com/logos/a-vs-b.png"},
        ),
        ("BLANK", "That's all. Thanks for your time! 🙏", {}),
    ),
    LIVE_CONVERSATION: (
        ("BLANK", "Introductions and consent", {}),
        ("URL", "Walk through sign-up at app.example.com.", {"url": "https://app.example.com/signup"}),
        ("WRITTEN", "Moderator notes", {}),
    ),
}


def task_plan(kind: str, rng: Random) -> tuple[TaskDef, ...]:
    return tuple(TaskDef(new_uuid(rng), t, text, params) for t, text, params in _PLANS[kind])


def _rating(task: TaskDef, rng: Random) -> dict[str, Any]:
    scale = task.params["scale"]
    return {"value": rng.randint(scale["min"], scale["max"]), "scale": dict(scale)}


def _choice(task: TaskDef, rng: Random) -> dict[str, Any]:
    options: list[str] = task.params["options"]
    multi = bool(task.params.get("multi"))
    limit = task.params.get("maxLimit")
    count = rng.randint(1, limit or len(options) - 1) if multi else 1
    selected = rng.sample(options, count)
    answer: dict[str, Any] = {
        "selected": selected,
        "options": list(options),
        "multiSelect": multi,
        "randomizedOptions": bool(task.params.get("randomized")),
        "maxLimit": limit,
    }
    if "Other" in selected:
        answer["otherText"] = rng.choice(["Bank transfer", "Gift card 🎁", "Crédito da loja"])
    return answer


def _matrix(task: TaskDef, rng: Random) -> dict[str, Any]:
    columns: list[str] = task.params["columns"]
    picks = 2 if task.params.get("multi") else 1
    selections = [
        {"row": row, "columns": rng.sample(columns, rng.randint(1, picks))} for row in task.params["rows"]
    ]
    return {"rows": list(task.params["rows"]), "columns": list(columns), "selections": selections}


def _card_sort(task: TaskDef, rng: Random) -> dict[str, Any]:
    cards = list(task.params["cards"])
    rng.shuffle(cards)
    return {
        "groups": [
            {"name": "Money", "cards": cards[:2]},
            {"name": "Cartão & segurança", "cards": cards[2:4]},
        ],
        "unsortedCards": cards[4:],
    }


def answer_value(task: TaskDef, rng: Random) -> tuple[str, dict[str, Any]] | None:
    """The answer key and its content for one task, or None for a type that fills no key."""
    kind = task.type
    if kind == "CARD_SORT":
        return "cardSort", _card_sort(task, rng)
    if kind not in ANSWER_KEYS:
        return None
    key = ANSWER_KEYS[kind]
    if kind == "BLANK":
        value: dict[str, Any] = {}
    elif kind == "RATING_SCALE":
        value = _rating(task, rng)
    elif kind == "MULTIPLE_CHOICE":
        value = _choice(task, rng)
    elif kind == "IMAGE":
        value = {"imageUrl": task.params["imageUrl"], "viewedMs": rng.randint(800, 15000)}
    elif kind == "NPS":
        value = {"score": rng.choice([0, 3, 5, 6, 7, 7, 8, 8, 9, 9, 10, 10])}
    elif kind == "URL":
        value = {
            "url": task.params["url"],
            "visited": rng.random() > 0.1,
            "durationMs": rng.randint(2000, 90000),
        }
    elif kind == "RANK_ORDER":
        value = {"ranking": rng.sample(task.params["options"], len(task.params["options"]))}
    elif kind == "WRITTEN":
        value = {"text": rng.choice(WRITTEN_ANSWERS)}
    elif kind == "FIGMA":
        value = {
            "prototypeUrl": "https://www.figma.com/proto/AbC123xyz/Checkout?node-id=1-2&scaling=scale-down",
            "figmaPrototypeTitle": "Checkout v3 — mobile",
            "figmaPrototypeDisplaySetting": "FIT_WIDTH",
            "completed": rng.random() > 0.2,
            "screensVisited": rng.randint(1, 9),
        }
    else:
        value = _matrix(task, rng)
    return key, value


def build_answer(task: TaskDef, rng: Random, style: str, anomaly: str | None = None) -> dict[str, Any] | None:
    """The `answer` object of one task response.

    `anomaly` reproduces what a client must survive: "extra" adds a written comment beside the real
    answer; "mismatch" files the answer under another type's key (as after a task was converted).
    """
    answer: dict[str, Any] = dict.fromkeys(DTO_ANSWER_KEYS) if style == "dto" else {}
    filled = answer_value(task, rng)
    if filled is not None:
        key, value = filled
        if anomaly == "mismatch":
            key = "nps" if key != "nps" else "ratingScale"
        answer[key] = value
        if anomaly == "extra" and key != "written":
            answer["written"] = {"text": "(participant comment) Ça va, mais lent 🐢"}
    return answer

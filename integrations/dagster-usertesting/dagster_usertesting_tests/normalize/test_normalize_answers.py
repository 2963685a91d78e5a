"""Typed answer columns (nps_score, rating_value, answer_text) from undocumented answer shapes."""

from __future__ import annotations

import pytest

from dagster_usertesting.lib.normalize.answers import answer_text, nps_score, rating_value


@pytest.mark.parametrize(
    ("nps", "expected"),
    [
        (9, 9),
        (0, 0),
        (10.0, 10),
        ("7", 7),
        ({"score": 8}, 8),
        ({"value": 6.0}, 6),
        ({"rating": 5}, 5),
        ({"selected": 3}, 3),
        ({"selected": {"value": 2}}, 2),
        ({"question": "How likely?", "score": 10}, 10),
        ([4], 4),
        (11, None),
        (-1, None),
        (7.5, None),
        (True, None),
        ({"selected": True}, None),
        ("very likely", None),
        ({"comment": "great"}, None),
        ([1, 2], None),
        (None, None),
    ],
)
def test_nps_score(nps: object, expected: int | None) -> None:
    assert nps_score({"nps": nps}) == expected


@pytest.mark.parametrize(
    ("rating", "expected"),
    [
        (4, 4.0),
        (3.5, 3.5),
        ({"value": 4}, 4.0),
        ({"score": 2}, 2.0),
        ({"rating": 7}, 7.0),
        ({"selected": 1, "min": 1, "max": 5}, 1.0),
        ({"selected": {"value": 5, "label": "Very easy"}}, 5.0),
        ({"min": 1, "max": 5}, None),
        ({"label": "Easy"}, None),
        (float("nan"), None),
        (None, None),
    ],
)
def test_rating_value(rating: object, expected: float | None) -> None:
    assert rating_value({"ratingScale": rating}) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"written": "I liked it"}, "I liked it"),
        ({"written": {"text": "I liked it"}}, "I liked it"),
        ({"written": {"value": "v"}}, "v"),
        ({"written": {"response": "r"}}, "r"),
        ({"written": {"transcript": "spoken"}}, "spoken"),
        ({"written": {"text": {"value": "deep"}}}, "deep"),
        ({"written": ""}, ""),
        ({"multipleChoice": "Blue"}, "Blue"),
        ({"multipleChoice": ["Blue", "Green"]}, "Blue, Green"),
        ({"multipleChoice": {"selected": ["Blue"]}}, "Blue"),
        ({"multipleChoice": {"selectedOptions": [{"id": 1, "text": "Red"}, {"value": "Teal"}]}}, "Red, Teal"),
        ({"multipleChoice": {"label": "Blue", "value": "blue"}}, "Blue"),
        ({"multipleChoice": {"value": ["A", "B"]}}, "A, B"),
        (
            {
                "multipleChoice": {
                    "multiSelect": True,
                    "options": [
                        {"label": "A", "selected": True},
                        {"label": "B", "selected": False},
                        {"label": "C", "selected": True},
                    ],
                }
            },
            "A, C",
        ),
        # Options without selection flags are what was offered, not what was picked.
        ({"multipleChoice": {"options": [{"label": "A"}, {"label": "B"}]}}, None),
        (
            {"multipleChoice": {"selected": [{"label": "Yes, definitely"}, {"label": "No"}]}},
            "Yes, definitely, No",
        ),
        ({"written": {"text": "w"}, "multipleChoice": ["m"]}, "w"),
        ({"written": None, "multipleChoice": ["m"]}, "m"),
        ({"written": {"audioUrl": "x"}}, None),
        ({"rankOrder": ["A", "B"]}, None),
        ({"multipleChoice": {"multiSelect": False}}, None),
        ({}, None),
    ],
)
def test_answer_text(answer: dict[str, object], expected: str | None) -> None:
    assert answer_text(answer) == expected


@pytest.mark.parametrize("answer", [None, "text", 5, ["nps"], True])
def test_non_object_answers_give_no_typed_values(answer: object) -> None:
    assert nps_score(answer) is None
    assert rating_value(answer) is None
    assert answer_text(answer) is None


def test_deep_nesting_is_not_followed_forever() -> None:
    deep: object = 5
    for _ in range(50):
        deep = {"value": deep}
    assert rating_value({"ratingScale": deep}) is None

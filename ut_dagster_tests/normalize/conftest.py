"""Hand-written payloads shaped like the Results API spec examples (no sandbox server needed)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION_ID = "f3c00502-256d-4693-b1b3-7dbd7eb64ca9"
PARTICIPANT_ID = "41f72104-5f84-44fa-a16a-03f575159611"
EXTRACTED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

FULL_DETAILS: dict[str, Any] = {
    "sessionId": SESSION_ID,
    "audienceId": "550e8400-e29b-41d4-a716-446655440000",
    "testPlanId": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    "sessionParticipant": {
        "participantId": PARTICIPANT_ID,
        "demographicsInfo": [
            {
                "id": "3f1b8c2e-9a44-4c3d-b8b7-1a7f4c0a9d21",
                "code": "GENDER",
                "label": "What is your gender?",
                "value": "Male",
                "type": "DEMOGRAPHIC_QUESTION_TYPE_SINGLE",
            },
            {
                "id": "9b2d1c3e-0000-4c3d-b8b7-1a7f4c0a9d22",
                "code": "INCOME",
                "label": "What is your household income?",
                "value": "$50,000 - $74,999",
                "type": "DEMOGRAPHIC_QUESTION_TYPE_SINGLE",
            },
            {
                "id": "7c4e2a1b-1111-4c3d-b8b7-1a7f4c0a9d23",
                "code": "INTERESTS",
                "label": "What are your interests?",
                "value": "Cooking, Travel ,  ,Sports",
                "type": "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE",
            },
        ],
    },
    "taskGroups": [
        {"uuid": "550e8400-e29b-41d4-a716-446655440000", "type": "QX_SCORE", "response": {"score": 85}},
        {
            "uuid": "550e8400-e29b-41d4-a716-446655440001",
            "type": "BALANCED_COMPARISON",
            "response": {"sequence": "BA"},
        },
    ],
    "tasks": [
        {
            "uuid": "12debc51-0948-4d2e-9abe-9844ddd5c5ff",
            "text": "Rate Website A",
            "type": "RATING_SCALE",
            "response": {
                "startTimeMs": 15000,
                "endTimeMs": 20000,
                "skipped": False,
                "answer": {"ratingScale": {"value": 4}},
            },
        },
        {
            "uuid": "12debc51-0948-4d2e-9abe-9844ddd5c600",
            "text": "How likely are you to recommend us?",
            "type": "NPS",
            "response": {
                "startTimeMs": 20000.0,
                "endTimeMs": 31500.0,
                "skipped": False,
                "answer": {"nps": {"score": 9}},
            },
        },
        {
            "uuid": "12debc51-0948-4d2e-9abe-9844ddd5c601",
            "text": "Which colours do you like?",
            "type": "MULTIPLE_CHOICE",
            "response": {
                "startTimeMs": 31500,
                "endTimeMs": 40000,
                "skipped": False,
                "answer": {"multipleChoice": {"selected": [{"label": "Blue"}, {"label": "Green"}]}},
            },
        },
        {
            "uuid": "12debc51-0948-4d2e-9abe-9844ddd5c602",
            "text": "Tell us what you think",
            "type": "WRITTEN",
            "response": {
                "startTimeMs": 40000,
                "endTimeMs": 52000,
                "skipped": True,
                "answer": {"written": {"text": "Très bien, 👍"}},
            },
        },
    ],
}

NULL_DETAILS: dict[str, Any] = {
    "sessionId": None,
    "audienceId": None,
    "testPlanId": None,
    "sessionParticipant": None,
    "taskGroups": [{"uuid": None, "type": None, "response": None}],
    "tasks": [{"uuid": None, "text": None, "type": None, "response": None}],
}


@pytest.fixture
def full_details() -> dict[str, Any]:
    return copy.deepcopy(FULL_DETAILS)


@pytest.fixture
def null_details() -> dict[str, Any]:
    return copy.deepcopy(NULL_DETAILS)

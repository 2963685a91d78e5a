"""Hand-written payloads shaped like the Results API spec examples (no sandbox server needed), the
Hypothesis profiles of the property tests, and a real DuckDB database with the project's tables."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, settings

from dagster_usertesting.lib.normalize import to_frame
from dagster_usertesting.lib.schema import ALL_TABLES, SCHEMA, Table
from dagster_usertesting.lib.warehouse.ddl import create_table_sql, qualified_name

# "ci" (the default) is derandomized, so a run is repeatable and a failure reproduces anywhere;
# HYPOTHESIS_PROFILE=explore searches further with fresh random examples (minutes: add --timeout=0).
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("explore", max_examples=1000, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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


Loader = Callable[[Table, Sequence[dict[str, Any]]], list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Loader]:
    """Loads rows into real DuckDB tables created by the warehouse's own DDL and checks they read back.

    Rows go through `to_frame` and the IO manager's positional `INSERT ... SELECT`, so a value the
    warehouse refuses (text that is not UTF-8, an integer beyond BIGINT) fails here as it would in
    a sync; every value must read back equal (timestamps as naive UTC). Returns the rows read back.
    Each load starts from an empty table.
    """
    connection = duckdb.connect(":memory:", config={"threads": 1})
    connection.execute(f"CREATE SCHEMA {SCHEMA}")
    for table in ALL_TABLES.values():
        connection.execute(create_table_sql(table, "duckdb", qualified_name(SCHEMA, table.name)))

    def load(table: Table, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        name = f"{SCHEMA}.{table.name}"
        connection.register("rows_frame", to_frame(table, rows))
        try:
            connection.execute(f"INSERT INTO {name} SELECT * FROM rows_frame")
            loaded = connection.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
        finally:
            connection.unregister("rows_frame")
            connection.execute(f"DELETE FROM {name}")
        assert loaded == [_as_loaded(row) for row in rows]
        return loaded

    yield load
    connection.close()


def _as_loaded(row: dict[str, Any]) -> tuple[Any, ...]:
    """A normalizer row as DuckDB gives it back: TIMESTAMP columns are naive UTC."""
    return tuple(
        value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, datetime) and value.tzinfo is not None
        else value
        for value in row.values()
    )

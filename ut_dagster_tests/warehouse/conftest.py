"""Shared pieces for the warehouse IO manager tests, handed out through the `kit` fixture.

(A fixture rather than an importable helper module: the test folders have no __init__.py.) No
`from __future__ import annotations`: Dagster inspects the asset functions' context annotation.
"""

import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from dagster_usertesting.lib.schema import TASKS, TESTS
from dagster_usertesting.lib.warehouse import TableWrite

PARTITIONS = dg.DynamicPartitionsDefinition(name="usertesting_test")
TEST_A = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
TEST_B = "0b6b1c7e-2f55-4a43-9d4f-5d2b8f6c1a10"


def tasks_frame(
    test_id: str,
    count: int,
    answer: dict[str, str] | None = None,
    sessions: list[str] | None = None,
    extracted_at: datetime | None = None,
) -> pd.DataFrame:
    """A tasks frame with the dtypes the normalizers produce, nulls included; one task per session."""
    rows: list[dict[str, Any]] = [
        {
            "test_id": test_id,
            "session_id": sessions[i] if sessions else f"session-{i}",
            "participant_id": None if i % 2 else f"participant-{i}",
            "task_uuid": f"task-{i}",
            "task_text": "Find the pricing page",
            "task_type": "NPS",
            "position": i,
            "start_time_ms": 1000 * i,
            "end_time_ms": None if i % 2 else 1000 * i + 500,
            "duration_ms": None if i % 2 else 500,
            "skipped": None if i % 3 == 2 else bool(i % 2),
            "answer_json": json.dumps({"answer": {"nps": i}, "kind": (answer or {}).get("kind", "nps")}),
            "nps_score": i,
            "rating_value": None if i % 2 else 4.5,
            "answer_text": None,
            "extracted_at": extracted_at or datetime(2024, 5, 1, 12, 0, i),
        }
        for i in range(len(sessions) if sessions else count)
    ]
    data = {c.name: pd.Series([r[c.name] for r in rows], dtype=c.type.pandas) for c in TASKS.columns}
    return pd.DataFrame(data, columns=TASKS.column_names)


def build_assets(frames: dict[str, Any], loaded: dict[str, pd.DataFrame]) -> list[Any]:
    """`usertesting/tasks` returns frames[partition] (a DataFrame or a TableWrite); a downstream
    asset records what it loads."""

    @dg.asset(
        key=["usertesting", "tasks"],
        partitions_def=PARTITIONS,
    )
    def tasks(context: dg.AssetExecutionContext) -> Any:
        return frames[context.partition_key]

    @dg.asset(
        key=["usertesting", "tasks_check"],
        partitions_def=PARTITIONS,
        ins={"tasks": dg.AssetIn(key=["usertesting", "tasks"])},
    )
    def tasks_check(context: dg.AssetExecutionContext, tasks: pd.DataFrame) -> None:
        loaded[context.partition_key] = tasks

    return [tasks, tasks_check]


def tests_frame(titles: dict[str, str]) -> pd.DataFrame:
    """`usertesting/tests` rows (one table for the credential, not per test) for these titles."""
    rows = [
        {
            "test_id": test_id,
            "title": title,
            "product_type": "THINK_OUT_LOUD",
            "study_type": "STUDYV2",
            "workspace_id": TEST_B,
            "workspace_name": "Research",
            "ordered_at": datetime(2024, 4, 1, 9, 30),
            "syncable": True,
            "extracted_at": datetime(2024, 5, 1, 12, 0),
        }
        for test_id, title in titles.items()
    ]
    data = {c.name: pd.Series([r[c.name] for r in rows], dtype=c.type.pandas) for c in TESTS.columns}
    return pd.DataFrame(data, columns=TESTS.column_names)


def build_tests_assets(runs: list[dict[str, str]], loaded: list[pd.DataFrame]) -> list[Any]:
    """Unpartitioned `usertesting/tests`: each materialization outputs the next titles of `runs`;
    a downstream asset records the whole table it loads."""

    @dg.asset(key=["usertesting", "tests"])
    def tests() -> TableWrite:
        return TableWrite(TESTS, tests_frame(runs.pop(0)), None)

    @dg.asset(key=["usertesting", "tests_reader"], ins={"tests": dg.AssetIn(key=["usertesting", "tests"])})
    def tests_reader(tests: pd.DataFrame) -> None:
        loaded.append(tests)

    return [tests, tests_reader]


@pytest.fixture
def instance() -> Any:
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions(PARTITIONS.name, [TEST_A, TEST_B])
        yield inst


def session_ids(n: int, start: int = 0) -> list[str]:
    return [f"session-{i:05d}" for i in range(start, start + n)]


def assert_same_frame(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    actual = actual.sort_values("session_id").reset_index(drop=True)
    expected = expected.sort_values("session_id").reset_index(drop=True)
    assert list(actual.columns) == list(expected.columns)
    assert actual.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(actual, expected)


@pytest.fixture
def kit() -> SimpleNamespace:
    return SimpleNamespace(
        PARTITIONS=PARTITIONS,
        TEST_A=TEST_A,
        TEST_B=TEST_B,
        tasks_frame=tasks_frame,
        session_ids=session_ids,
        build_assets=build_assets,
        tests_frame=tests_frame,
        build_tests_assets=build_tests_assets,
        assert_same_frame=assert_same_frame,
    )

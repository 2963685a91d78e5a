"""The research alerts' thresholds and decisions, without a warehouse or a Dagster run."""

import pytest

from ut_dagster.defs.research_marts.alerts import (
    low_nps_tests,
    qx_score_comparison,
    qx_score_drops,
    skipped_tasks,
)
from ut_dagster.environment import AlertThresholds


def test_thresholds_default_and_come_from_the_environment() -> None:
    assert AlertThresholds.from_env({}) == AlertThresholds(
        max_task_skip_rate=0.30, min_nps=0.0, max_qx_score_drop=5.0, min_sample_size=1
    )
    configured = AlertThresholds.from_env(
        {
            "UT_ALERT_MAX_TASK_SKIP_RATE": "0.5",
            "UT_ALERT_MIN_NPS": "-20",
            "UT_ALERT_MAX_QX_SCORE_DROP": " 2.5 ",
            "UT_ALERT_MIN_SAMPLE_SIZE": "5",
        }
    )
    assert configured == AlertThresholds(
        max_task_skip_rate=0.5, min_nps=-20.0, max_qx_score_drop=2.5, min_sample_size=5
    )


def test_a_threshold_that_is_not_a_number_names_its_variable() -> None:
    with pytest.raises(ValueError, match="UT_ALERT_MIN_SAMPLE_SIZE"):
        AlertThresholds.from_env({"UT_ALERT_MIN_SAMPLE_SIZE": "many"})


def test_skipped_tasks_above_the_threshold_with_enough_sessions() -> None:
    rows = [
        {"task_uuid": "at-threshold", "sessions": 10, "skip_rate": 0.30},
        {"task_uuid": "above", "sessions": 10, "skip_rate": 0.31},
        {"task_uuid": "worst", "sessions": 4, "skip_rate": 0.75},
        {"task_uuid": "too-few", "sessions": 2, "skip_rate": 1.0},
        {"task_uuid": "no-rate", "sessions": 0, "skip_rate": None},
    ]
    found = skipped_tasks(rows, AlertThresholds(min_sample_size=3))
    assert [row["task_uuid"] for row in found] == ["worst", "above"]


def test_low_nps_tests_below_the_floor() -> None:
    rows = [
        {"test_id": "zero", "nps": 0.0, "nps_responses": 10},
        {"test_id": "negative", "nps": -10.0, "nps_responses": 10},
        {"test_id": "no-answers", "nps": None, "nps_responses": 0},
    ]
    assert [row["test_id"] for row in low_nps_tests(rows, AlertThresholds())] == ["negative"]


def test_qx_score_drops_compare_with_the_previous_sync_only() -> None:
    previous = {"a": 80.0, "b": 70.0, "c": 50.0}
    current = {"a": 74.0, "b": 66.0, "c": 60.0, "new": 10.0}
    assert qx_score_drops(previous, current, max_drop=5.0) == [
        {"test_id": "a", "previous": 80.0, "current": 74.0, "drop": 6.0}
    ]
    assert qx_score_drops({}, current, max_drop=5.0) == []


def test_qx_score_comparison_reads_previous_and_current_scores_per_test() -> None:
    rows = [
        {"test_id": "a", "title": "A", "current_qx_score": 60, "previous_qx_score": 80.0},
        {"test_id": "new", "title": None, "current_qx_score": 70.0, "previous_qx_score": None},
    ]
    previous, current = qx_score_comparison(rows)
    assert (previous, current) == ({"a": 80.0}, {"a": 60.0, "new": 70.0})
    assert qx_score_drops(previous, current, max_drop=10.0) == [
        {"test_id": "a", "previous": 80.0, "current": 60.0, "drop": 20.0}
    ]
    assert qx_score_drops(previous, current, max_drop=20.0) == []  # a drop of exactly the maximum is allowed

"""Per-test QXscore summaries to qx_scores rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dagster_usertesting.lib.normalize import MalformedPayloadError, qx_score_rows
from dagster_usertesting.lib.schema import QX_SCORES

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

SPEC_EXAMPLE = {
    "testId": TEST_ID,
    "qxScores": [
        {
            "taskGroupId": "b1e2c3d4-5678-1234-9abc-def012345678",
            "label": "QXscore 1",
            "qxScore": None,
            "components": {"behavioral": None, "attitudinal": 50},
            "values": {"behavioral": None, "usability": 50, "trust": 50, "appearance": 50, "loyalty": 50},
        },
        {
            "taskGroupId": "b1e2c3d4-5678-1234-9abc-def012345679",
            "label": "Checkout \u2013 QX ✓",
            "qxScore": 71.25,
            "components": {"behavioral": 80.0, "attitudinal": 62.5},
            "values": {
                "behavioral": [100, 60.5, 79.5],
                "usability": 70,
                "trust": 55,
                "appearance": 65,
                "loyalty": 60,
            },
        },
    ],
    "meta": {"totalQxTasks": 2.0, "completes": 12},
}


def test_spec_example_gives_exact_rows() -> None:
    out = qx_score_rows(TEST_ID, SPEC_EXAMPLE, AT)
    common = {"test_id": TEST_ID, "completes": 12, "total_qx_tasks": 2, "extracted_at": AT}
    assert out == [
        {
            **common,
            "task_group_id": "b1e2c3d4-5678-1234-9abc-def012345678",
            "label": "QXscore 1",
            "qx_score": None,
            "behavioral": None,
            "attitudinal": 50.0,
            "usability": 50.0,
            "trust": 50.0,
            "appearance": 50.0,
            "loyalty": 50.0,
            "behavioral_values_json": None,
            "qx_json": json.dumps(SPEC_EXAMPLE["qxScores"][0], ensure_ascii=False, separators=(",", ":")),
        },
        {
            **common,
            "task_group_id": "b1e2c3d4-5678-1234-9abc-def012345679",
            "label": "Checkout \u2013 QX ✓",
            "qx_score": 71.25,
            "behavioral": 80.0,
            "attitudinal": 62.5,
            "usability": 70.0,
            "trust": 55.0,
            "appearance": 65.0,
            "loyalty": 60.0,
            "behavioral_values_json": "[100,60.5,79.5]",
            "qx_json": json.dumps(SPEC_EXAMPLE["qxScores"][1], ensure_ascii=False, separators=(",", ":")),
        },
    ]
    assert all(list(row) == QX_SCORES.column_names for row in out)
    assert [json.loads(r["qx_json"]) for r in out] == SPEC_EXAMPLE["qxScores"]


def test_nulls_odd_shapes_and_out_of_range() -> None:
    payload = {
        "qxScores": [
            {"taskGroupId": None, "qxScore": 101, "components": None, "values": "n/a", "newField": {"x": 1}},
            {},
        ],
        "meta": None,
    }
    out = qx_score_rows(TEST_ID, payload, AT)
    assert len(out) == 2
    for row in out:
        typed = {k: v for k, v in row.items() if k not in ("test_id", "qx_json", "extracted_at")}
        assert typed == dict.fromkeys(typed)
    assert json.loads(out[0]["qx_json"])["newField"] == {"x": 1}
    assert out[1]["qx_json"] == "{}"


@pytest.mark.parametrize("payload", [{"qxScores": [], "meta": {}}, {}, {"qxScores": None}])
def test_no_scores_gives_no_rows(payload: dict[str, object]) -> None:
    assert qx_score_rows(TEST_ID, payload, AT) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the payload is a list, expected an object"),
        ({"qxScores": {"label": "x"}}, "qxScores is an object, expected a list"),
        ({"qxScores": [{}, 3]}, "qxScores[1] is a number, expected an object"),
        ({"qxScores": [], "meta": [1]}, "meta is a list, expected an object"),
    ],
)
def test_malformed_payloads_raise(payload: object, message: str) -> None:
    with pytest.raises(MalformedPayloadError) as raised:
        qx_score_rows(TEST_ID, payload, AT)
    assert str(raised.value) == f"test {TEST_ID} QXscores: {message}"

"""Session results (v3) to the session_details, sessions, demographics, task_groups and tasks tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from dagster_usertesting_tests.normalize.as_dicts import rows_by_column

from dagster_usertesting.lib.normalize import MalformedPayloadError, session_rows
from dagster_usertesting.lib.schema import ALL_TABLES, SESSION_DETAILS

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION_ID = "f3c00502-256d-4693-b1b3-7dbd7eb64ca9"
PARTICIPANT = "41f72104-5f84-44fa-a16a-03f575159611"
AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
KEYS = {"test_id": TEST_ID, "session_id": SESSION_ID, "participant_id": PARTICIPANT}


def rows(payload: object, session_id: str = SESSION_ID) -> dict[str, list[dict[str, Any]]]:
    return rows_by_column(TEST_ID, session_id, payload, AT)


def test_full_payload_gives_exact_rows(full_details: dict[str, Any]) -> None:
    out = rows(full_details)

    assert set(out) == {"session_details", "sessions", "demographics", "task_groups", "tasks"}
    assert out["sessions"] == [
        {
            **KEYS,
            "audience_id": "550e8400-e29b-41d4-a716-446655440000",
            "test_plan_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "task_count": 4,
            "task_group_count": 2,
            "demographic_count": 3,
            "extracted_at": AT,
        }
    ]
    assert out["demographics"] == [
        {
            **KEYS,
            "demographic_id": "3f1b8c2e-9a44-4c3d-b8b7-1a7f4c0a9d21",
            "demographic_code": "GENDER",
            "label": "What is your gender?",
            "value": "Male",
            "values_json": '["Male"]',
            "type": "DEMOGRAPHIC_QUESTION_TYPE_SINGLE",
            "position": 0,
            "extracted_at": AT,
        },
        {
            **KEYS,
            "demographic_id": "9b2d1c3e-0000-4c3d-b8b7-1a7f4c0a9d22",
            "demographic_code": "INCOME",
            "label": "What is your household income?",
            "value": "$50,000 - $74,999",
            "values_json": '["$50,000 - $74,999"]',
            "type": "DEMOGRAPHIC_QUESTION_TYPE_SINGLE",
            "position": 1,
            "extracted_at": AT,
        },
        {
            **KEYS,
            "demographic_id": "7c4e2a1b-1111-4c3d-b8b7-1a7f4c0a9d23",
            "demographic_code": "INTERESTS",
            "label": "What are your interests?",
            "value": "Cooking, Travel ,  ,Sports",
            "values_json": '["Cooking","Travel","Sports"]',
            "type": "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE",
            "position": 2,
            "extracted_at": AT,
        },
    ]
    assert out["task_groups"] == [
        {
            **KEYS,
            "task_group_uuid": "550e8400-e29b-41d4-a716-446655440000",
            "task_group_type": "QX_SCORE",
            "task_group_response": '{"score":85}',
            "qx_score": 85.0,
            "comparison_sequence": None,
            "position": 0,
            "extracted_at": AT,
        },
        {
            **KEYS,
            "task_group_uuid": "550e8400-e29b-41d4-a716-446655440001",
            "task_group_type": "BALANCED_COMPARISON",
            "task_group_response": '{"sequence":"BA"}',
            "qx_score": None,
            "comparison_sequence": "BA",
            "position": 1,
            "extracted_at": AT,
        },
    ]
    task = {"participant_id": PARTICIPANT, "extracted_at": AT, "test_id": TEST_ID, "session_id": SESSION_ID}
    assert out["tasks"] == [
        {
            **task,
            "task_uuid": "12debc51-0948-4d2e-9abe-9844ddd5c5ff",
            "task_text": "Rate Website A",
            "task_type": "RATING_SCALE",
            "position": 0,
            "start_time_ms": 15000,
            "end_time_ms": 20000,
            "duration_ms": 5000,
            "skipped": False,
            "answer_json": '{"ratingScale":{"value":4}}',
            "nps_score": None,
            "rating_value": 4.0,
            "answer_text": None,
        },
        {
            **task,
            "task_uuid": "12debc51-0948-4d2e-9abe-9844ddd5c600",
            "task_text": "How likely are you to recommend us?",
            "task_type": "NPS",
            "position": 1,
            "start_time_ms": 20000,
            "end_time_ms": 31500,
            "duration_ms": 11500,
            "skipped": False,
            "answer_json": '{"nps":{"score":9}}',
            "nps_score": 9,
            "rating_value": None,
            "answer_text": None,
        },
        {
            **task,
            "task_uuid": "12debc51-0948-4d2e-9abe-9844ddd5c601",
            "task_text": "Which colours do you like?",
            "task_type": "MULTIPLE_CHOICE",
            "position": 2,
            "start_time_ms": 31500,
            "end_time_ms": 40000,
            "duration_ms": 8500,
            "skipped": False,
            "answer_json": '{"multipleChoice":{"selected":[{"label":"Blue"},{"label":"Green"}]}}',
            "nps_score": None,
            "rating_value": None,
            "answer_text": "Blue, Green",
        },
        {
            **task,
            "task_uuid": "12debc51-0948-4d2e-9abe-9844ddd5c602",
            "task_text": "Tell us what you think",
            "task_type": "WRITTEN",
            "position": 3,
            "start_time_ms": 40000,
            "end_time_ms": 52000,
            "duration_ms": 12000,
            "skipped": True,
            "answer_json": '{"written":{"text":"Très bien, 👍"}}',
            "nps_score": None,
            "rating_value": None,
            "answer_text": "Très bien, 👍",
        },
    ]


def test_every_row_has_the_table_columns_in_order(full_details: dict[str, Any]) -> None:
    for name, table_rows in rows(full_details).items():
        assert table_rows, name
        for row in table_rows:
            assert list(row) == ALL_TABLES[name].column_names


def test_millisecond_floats_become_ints(full_details: dict[str, Any]) -> None:
    nps_task = rows(full_details)["tasks"][1]
    assert type(nps_task["start_time_ms"]) is int
    assert type(nps_task["duration_ms"]) is int


def test_null_everywhere_gives_null_columns(null_details: dict[str, Any]) -> None:
    out = rows(null_details)

    # The listing's session_id is kept even though the payload's own sessionId is null.
    assert out["sessions"] == [
        {
            "test_id": TEST_ID,
            "session_id": SESSION_ID,
            "participant_id": None,
            "audience_id": None,
            "test_plan_id": None,
            "task_count": 1,
            "task_group_count": 1,
            "demographic_count": 0,
            "extracted_at": AT,
        }
    ]
    assert out["demographics"] == []
    [group] = out["task_groups"]
    assert group["session_id"] == SESSION_ID
    assert group["position"] == 0
    assert all(group[c] is None for c in ("participant_id", "task_group_uuid", "task_group_type"))
    assert all(group[c] is None for c in ("task_group_response", "qx_score", "comparison_sequence"))
    [task] = out["tasks"]
    assert task["session_id"] == SESSION_ID
    assert task["position"] == 0
    nullable = [c for c in task if c not in ("test_id", "session_id", "position", "extracted_at")]
    assert {c: task[c] for c in nullable} == dict.fromkeys(nullable)


def test_null_answer_and_null_demographic_fields() -> None:
    payload = {
        "sessionParticipant": {
            "participantId": None,
            "demographicsInfo": [{"id": None, "code": None, "label": None, "value": None, "type": None}],
        },
        "tasks": [
            {
                "uuid": "t",
                "text": "x",
                "type": "NPS",
                "response": {"startTimeMs": None, "endTimeMs": 5, "skipped": None, "answer": None},
            }
        ],
    }
    out = rows(payload)

    [demographic] = out["demographics"]
    assert demographic["value"] is None
    assert demographic["values_json"] is None  # SQL null, not the string "null"
    assert demographic["type"] is None
    [task] = out["tasks"]
    assert task["answer_json"] is None
    assert (task["start_time_ms"], task["end_time_ms"], task["duration_ms"]) == (None, 5, None)
    assert task["skipped"] is None
    assert (task["nps_score"], task["rating_value"], task["answer_text"]) == (None, None, None)


def test_missing_keys_and_empty_lists_give_no_child_rows() -> None:
    for payload in ({}, {"sessionParticipant": {}, "taskGroups": [], "tasks": []}):
        out = rows(payload)
        assert out["demographics"] == out["task_groups"] == out["tasks"] == []
        assert out["sessions"][0]["task_count"] == 0
        assert out["sessions"][0]["demographic_count"] == 0


def test_unknown_types_and_answer_shapes_are_preserved() -> None:
    answer = {"heatmap": {"clicks": [{"x": 1.5, "y": 2}], "note": None}, "nps": "very likely"}
    response = {"startTimeMs": 0, "endTimeMs": 10, "skipped": "maybe", "answer": answer}
    payload = {
        "taskGroups": [{"uuid": "g", "type": "CARD_SORT", "response": {"score": 50, "extra": [1]}}],
        "tasks": [{"uuid": "t", "text": "Try it", "type": "HEATMAP", "response": response}],
    }
    out = rows(payload)

    [group] = out["task_groups"]
    assert group["task_group_type"] == "CARD_SORT"
    assert json.loads(group["task_group_response"]) == {"score": 50, "extra": [1]}
    assert group["qx_score"] is None  # only read from QX_SCORE groups
    [task] = out["tasks"]
    assert task["task_type"] == "HEATMAP"
    assert json.loads(task["answer_json"]) == answer
    assert task["skipped"] is None
    assert (task["nps_score"], task["rating_value"], task["answer_text"]) == (None, None, None)


def test_answer_json_round_trips_exactly() -> None:
    answer = {
        "zeta": 1,
        "alpha": {"nested": [1, 2.5, -0.0, 1e-7, 12345678901234567890, True, None, {"b": 2, "a": 1}]},
        "ünïcödé": '日本語 \u2028 "quoted" \\ back\nslash',
        "empty": {},
        "list": [],
    }
    payload = {"tasks": [{"uuid": "t", "response": {"answer": answer}}]}
    text = rows(payload)["tasks"][0]["answer_json"]

    assert json.loads(text) == answer
    assert list(json.loads(text)) == list(answer)  # key order kept
    assert "日本語" in text  # not \u-escaped
    assert ": " not in text.replace('"quoted"', "")  # compact separators


def test_task_group_response_round_trips_and_qx_score_range() -> None:
    groups = [
        {"uuid": "a", "type": "QX_SCORE", "response": {"score": 72.5}},
        {"uuid": "b", "type": "QX_SCORE", "response": {"score": 140}},
        {"uuid": "c", "type": "QX_SCORE", "response": {"score": "n/a"}},
        {"uuid": "d", "type": "BALANCED_COMPARISON", "response": {"sequence": 12}},
        {"uuid": "e", "type": "UNRECOGNIZED", "response": {"sequence": "AB"}},
        {"uuid": "f", "type": "QX_SCORE", "response": "unexpected text"},
    ]
    out = rows({"taskGroups": groups})["task_groups"]

    assert [g["qx_score"] for g in out] == [72.5, None, None, None, None, None]
    assert [g["comparison_sequence"] for g in out] == [None] * 6
    assert [g["position"] for g in out] == list(range(6))
    assert json.loads(out[5]["task_group_response"]) == "unexpected text"


def test_negative_duration_is_null() -> None:
    payload = {"tasks": [{"response": {"startTimeMs": 9000, "endTimeMs": 1000}}]}
    task = rows(payload)["tasks"][0]
    assert (task["start_time_ms"], task["end_time_ms"], task["duration_ms"]) == (9000, 1000, None)


@pytest.mark.parametrize(
    ("value", "type_", "expected"),
    [
        ("Cooking, Travel", "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE", ["Cooking", "Travel"]),
        ("Cooking", "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE", ["Cooking"]),
        (" , ,", "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE", []),
        ("$50,000 - $74,999", "DEMOGRAPHIC_QUESTION_TYPE_SINGLE", ["$50,000 - $74,999"]),
        ("Yes, sometimes", "UNRECOGNIZED", ["Yes, sometimes"]),
        ("Yes, sometimes", None, ["Yes, sometimes"]),
        (["A", "B"], "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE", ["A", "B"]),
        (None, "DEMOGRAPHIC_QUESTION_TYPE_MULTIPLE", None),
    ],
)
def test_demographic_values(value: object, type_: str | None, expected: list[str] | None) -> None:
    payload = {"sessionParticipant": {"demographicsInfo": [{"value": value, "type": type_}]}}
    values_json = rows(payload)["demographics"][0]["values_json"]
    assert (None if values_json is None else json.loads(values_json)) == expected


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the details payload is a list, expected an object"),
        ("oops", "the details payload is a string, expected an object"),
        ({"tasks": {"uuid": "t"}}, "tasks is an object, expected a list"),
        ({"tasks": [{}, {}, {}, "task"]}, "tasks[3] is a string, expected an object"),
        ({"taskGroups": "QX_SCORE"}, "taskGroups is a string, expected a list"),
        ({"taskGroups": [None]}, "taskGroups[0] is null, expected an object"),
        ({"tasks": [{"response": [1]}]}, "tasks[0].response is a list, expected an object"),
        ({"sessionParticipant": "p"}, "sessionParticipant is a string, expected an object"),
        (
            {"sessionParticipant": {"demographicsInfo": [7]}},
            "sessionParticipant.demographicsInfo[0] is a number, expected an object",
        ),
    ],
)
def test_malformed_payloads_say_what_and_where(payload: object, message: str) -> None:
    with pytest.raises(MalformedPayloadError) as raised:
        rows(payload)
    assert str(raised.value) == f"session {SESSION_ID}: {message}"
    assert isinstance(raised.value, ValueError)


def test_details_json_is_the_served_text_not_a_re_encoding(warehouse: Callable[..., Any]) -> None:
    # Spacing, key order, escapes and number spellings a re-encoding would change: the warehouse
    # must hold the text the landing area holds, character for character.
    body = (
        '{ "tasks" :[ {"uuid":"t","response":{"answer":{"z":1,"a":1.50,"e":1E2}}} ],\n'
        '\t"sessionParticipant": {"participantId": "caf\\u00e9 \\ud83d\\ude00"},'
        '  "extra": "Très bien 👍", "audienceId": null }\r\n'
    ).encode()
    out = session_rows(TEST_ID, SESSION_ID, body, AT)

    [row] = out["session_details"]
    [loaded] = warehouse(SESSION_DETAILS, [dict(zip(SESSION_DETAILS.column_names, row, strict=True))])
    test_id, session_id, details_json, _ = loaded
    assert (test_id, session_id) == (TEST_ID, SESSION_ID)
    assert details_json.encode() == body
    assert out["sessions"][0][2] == "café 😀"  # the payload was read from that text all the same


def test_details_json_leaves_out_a_leading_bom_only() -> None:
    body = '{"note": "\ufeff inside stays"}'.encode()
    [row] = session_rows(TEST_ID, SESSION_ID, b"\xef\xbb\xbf" + body, AT)["session_details"]
    assert row[2].encode() == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"tasks": "caf\xe9"}', "the details body is not UTF-8 text"),
        (json.dumps({"tasks": []}).encode("utf-16"), "the details body is not UTF-8 text"),
        (b"<html>502 Bad Gateway</html>", "the details body is not JSON"),
        (b"[" * 100_000, "the details body is nested too deeply to read"),
        (b"[]", "the details payload is a list, expected an object"),
    ],
)
def test_unreadable_bodies_say_which_session_and_why(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayloadError) as raised:
        session_rows(TEST_ID, SESSION_ID, body, AT)
    assert str(raised.value).startswith(f"session {SESSION_ID}: {message}")


def test_non_finite_numbers_become_json_null() -> None:
    # NaN is not JSON and warehouse JSON parsers reject it; Python's json module would emit it.
    payload = {
        "tasks": [{"response": {"answer": {"ratingScale": {"value": float("nan")}, "k": [float("inf")]}}}]
    }
    task = rows(payload)["tasks"][0]
    assert task["answer_json"] == '{"ratingScale":{"value":null},"k":[null]}'
    assert task["rating_value"] is None

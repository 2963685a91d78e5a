"""Every normalizer's output fits its table: column order, empty outputs, and to_frame dtypes."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from dagster_usertesting_tests.normalize.as_dicts import rows_by_column

from dagster_usertesting.lib.normalize import (
    MalformedPayloadError,
    chunk_rows,
    listing_rows,
    parse_cues,
    qx_score_rows,
    to_frame,
    transcript_rows,
)
from dagster_usertesting.lib.schema import ALL_TABLES
from dagster_usertesting.lib.sync.clips_rows import clip_rows, clip_transcript_rows, reel_rows

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION_ID = "f3c00502-256d-4693-b1b3-7dbd7eb64ca9"
AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello, World!\n\n00:00:02.000 --> 00:00:04.000\nBye"
REEL = {"uuid": "A1B2", "name": "Pain points", "durationMs": 9000, "numClips": 1, "lastUpdatedAtMs": 1}
CLIP = {"name": "Stuck", "timeStartMs": 500, "timeEndMs": 2500, "layout": {"mainStream": "screen"}}


def outputs(details: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    listing = [{"sessionId": SESSION_ID, "status": "COMPLETE", "startTime": "2024-11-21T12:23:52.614Z"}]
    qx = {
        "qxScores": [{"taskGroupId": "g", "qxScore": 80, "values": {"behavioral": [1]}}],
        "meta": {"completes": 3},
    }
    return {
        "raw_sessions": listing_rows(TEST_ID, listing, AT),
        **rows_by_column(TEST_ID, SESSION_ID, details, AT),
        "transcripts": transcript_rows(TEST_ID, SESSION_ID, VTT, AT),
        "transcript_chunks": chunk_rows(TEST_ID, SESSION_ID, parse_cues(VTT), AT),
        "qx_scores": qx_score_rows(TEST_ID, qx, AT),
        "highlight_reels": reel_rows(TEST_ID, [REEL], set(), AT),
        "clips": clip_rows(TEST_ID, SESSION_ID, None, {"c1": CLIP}, {}, AT),
        "clip_transcripts": clip_transcript_rows(TEST_ID, SESSION_ID, {"c1": CLIP}, parse_cues(VTT), AT),
    }


def test_rows_have_table_columns_in_order_and_frame_cleanly(full_details: dict[str, Any]) -> None:
    out = outputs(full_details)
    # Videos and clip media are archived, not normalized; the test list has its own normalizer
    # (test_normalize_workspace_tests).
    assert set(out) == set(ALL_TABLES) - {"session_videos", "clip_media", "tests"}
    for name, rows in out.items():
        table = ALL_TABLES[name]
        assert rows, name
        assert all(list(row) == table.column_names for row in rows), name
        frame = to_frame(table, rows)
        assert list(frame.columns) == table.column_names
        assert frame.dtypes.equals(to_frame(table, []).dtypes), name
        assert (frame["test_id"] == TEST_ID).all()


def test_empty_outputs_still_frame_with_table_columns() -> None:
    empty = {
        "raw_sessions": listing_rows(TEST_ID, [], AT),
        **{
            k: v
            for k, v in rows_by_column(TEST_ID, SESSION_ID, {}, AT).items()
            if k not in ("sessions", "session_details")
        },
        "transcript_chunks": chunk_rows(TEST_ID, SESSION_ID, parse_cues("WEBVTT"), AT),
        "qx_scores": qx_score_rows(TEST_ID, {"qxScores": []}, AT),
    }
    for name, rows in empty.items():
        assert rows == [], name
        frame = to_frame(ALL_TABLES[name], rows)
        assert list(frame.columns) == ALL_TABLES[name].column_names


def test_null_payload_frames_with_nulls(null_details: dict[str, Any]) -> None:
    out = rows_by_column(TEST_ID, SESSION_ID, null_details, AT)
    tasks = to_frame(ALL_TABLES["tasks"], out["tasks"])
    assert tasks["skipped"].isna().all() and tasks["nps_score"].isna().all()
    assert tasks["answer_json"].tolist() == [None]
    assert tasks["extracted_at"][0] == pd.Timestamp("2025-01-02 03:04:05")


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "str", "list", "dict"] if depth < 3 else ["null", "int", "str"]
    kind = rng.choice(kinds)
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        keys = ["score", "value", "selected", "label", "text", "nps", "sequence", "x", "ü"]
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return {
        "null": None,
        "bool": rng.random() < 0.5,
        "int": rng.choice([0, 7, -3, 10**20, 15000]),
        "float": rng.choice([0.5, 15000.0, -1e300, float("nan"), float("inf")]),
        "str": rng.choice(
            ["", "QX_SCORE", "BALANCED_COMPARISON", "9", "a,b", "2024-11-21T12:23:52Z", "日本"]
        ),
    }[kind]


def test_random_shapes_give_rows_or_malformed_payload_error(full_details: dict[str, Any]) -> None:
    # Anything JSON can express, dropped into the places the API leaves loose, must either normalize
    # into frameable rows or raise MalformedPayloadError: never another exception.
    rng = random.Random(20250102)
    paths = [
        ("sessionParticipant",),
        ("sessionParticipant", "participantId"),
        ("sessionParticipant", "demographicsInfo", 2, "value"),
        ("sessionParticipant", "demographicsInfo", 0, "type"),
        ("taskGroups", 0, "type"),
        ("taskGroups", 0, "response"),
        ("taskGroups", 1, "response", "sequence"),
        ("tasks", 0, "response", "startTimeMs"),
        ("tasks", 1, "response", "answer"),
        ("tasks", 1, "response", "answer", "nps"),
        ("tasks", 2, "response", "answer", "multipleChoice"),
        ("tasks", 3, "response", "answer", "written"),
        ("tasks", 3, "response", "skipped"),
        ("tasks", 0, "type"),
        ("testPlanId",),
    ]
    outcomes = {"rows": 0, "malformed": 0}
    for _ in range(400):
        payload = copy.deepcopy(full_details)
        path = rng.choice(paths)
        target: Any = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = random_json(rng)
        try:
            out = rows_by_column(TEST_ID, SESSION_ID, payload, AT)
        except MalformedPayloadError:
            outcomes["malformed"] += 1
            continue
        outcomes["rows"] += 1
        for name, rows in out.items():
            to_frame(ALL_TABLES[name], rows)
    assert outcomes["rows"] > 300 and outcomes["malformed"] > 0

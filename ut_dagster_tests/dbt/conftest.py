"""Hand-made raw `usertesting` rows with known answers, and the mart values they must produce.

Handed out through the `research` fixture (the test folders have no __init__.py, so there is no
importable helper module). The expected values are computed here in plain Python from the same
rows, independently of the SQL; a few headline numbers are also spelled out in the tests.
"""

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from dagster_usertesting.lib.schema import ALL_TABLES, BIGINT, BOOLEAN, DOUBLE, SCHEMA, TIMESTAMP

TEST_A = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
TEST_B = "0b6b1c7e-2f55-4a43-9d4f-5d2b8f6c1a10"
OLD, NEW = datetime(2025, 3, 1, 8, 0), datetime(2025, 3, 2, 8, 0)  # two extractions
START = datetime(2025, 2, 28, 9, 0)
TITLE_A = "Checkout | flow"  # a pipe, which the alerts' Markdown tables must escape

Row = dict[str, Any]


@pytest.fixture
def research() -> SimpleNamespace:
    return _research()


@pytest.fixture(scope="module")
def research_module() -> SimpleNamespace:
    """The same, for module-scoped fixtures that run dbt once per module."""
    return _research()


def _research() -> SimpleNamespace:
    rows, selections = raw_rows()
    return SimpleNamespace(
        rows=rows,
        selections=selections,
        create_tables=create_tables,
        expected_task_metrics=expected_task_metrics,
        expected_option_shares=expected_option_shares,
        expected_test_summary=expected_test_summary,
        expected_session_summary=expected_session_summary,
    )


def _task(test_id: str, session: str, position: int, uuid: str, kind: str, **values: Any) -> Row:
    row: Row = {
        "test_id": test_id,
        "session_id": session,
        "participant_id": f"participant-{session}",
        "task_uuid": uuid,
        "task_text": f"{kind.title()} task {uuid}",
        "task_type": kind,
        "position": position,
        "start_time_ms": 1000,
        "end_time_ms": None,
        "duration_ms": None,
        "skipped": False,
        "answer_json": None,
        "nps_score": None,
        "rating_value": None,
        "answer_text": None,
        "extracted_at": NEW,
    }
    row.update(values)
    return row


def raw_rows() -> tuple[dict[str, list[Row]], dict[tuple[str, str, str], set[str]]]:
    """Rows per raw table, and the options each multiple-choice answer selects (read by a human)."""
    a_sessions = [f"a{i}" for i in range(1, 6)]  # a5 is listed but its details are not synced yet
    raw_sessions = [
        {
            "test_id": TEST_A,
            "session_id": s,
            "status": "COMPLETE",
            "start_time": START + timedelta(hours=i),
            "finish_time": START + timedelta(hours=i, minutes=10 + i),
            "audience_id": "aud-1",
            "extracted_at": NEW,
        }
        for i, s in enumerate(a_sessions)
    ]
    raw_sessions.append({**raw_sessions[0], "audience_id": "stale-audience", "extracted_at": OLD})
    raw_sessions += [
        {
            "test_id": TEST_B,
            "session_id": s,
            "status": "COMPLETE",
            "start_time": START,
            "finish_time": None,
            "audience_id": None,
            "extracted_at": NEW,
        }
        for s in ("b1", "b2")
    ]
    sessions = [
        {
            "test_id": t,
            "session_id": s,
            "participant_id": f"participant-{s}",
            "audience_id": None,
            "test_plan_id": "plan-1",
            "task_count": 4,
            "task_group_count": 1,
            "demographic_count": 1,
            "extracted_at": NEW,
        }
        for t, s in [
            (TEST_A, "a1"),
            (TEST_A, "a2"),
            (TEST_A, "a3"),
            (TEST_A, "a4"),
            (TEST_B, "b1"),
            (TEST_B, "b2"),
        ]
    ]
    sessions.append({**sessions[0], "participant_id": "stale-participant", "extracted_at": OLD})

    mc_a1 = '{"multipleChoice": {"selected": ["Option A", "Option B"]}}'
    mc_a2 = '{"multipleChoice": {"selectedOptions": [{"id": 1, "label": "Option A"}]}}'
    mc_a3 = '{"multipleChoice": {"options": [{"label": "Option C", "isSelected": true}, {"label": "Option A", "isSelected": false}]}}'
    tasks = [
        # Test A, task-nps: 10, 9, 7, 3 -> 2 promoters, 1 detractor -> NPS 25.
        _task(
            TEST_A,
            "a1",
            0,
            "task-nps",
            "NPS",
            duration_ms=10_000,
            nps_score=10,
            answer_json='{"nps": {"score": 10}}',
        ),
        _task(TEST_A, "a2", 0, "task-nps", "NPS", duration_ms=20_000, nps_score=9),
        _task(TEST_A, "a3", 0, "task-nps", "NPS", duration_ms=30_000, nps_score=7),
        _task(TEST_A, "a4", 0, "task-nps", "NPS", duration_ms=40_000, nps_score=3),
        # An older extraction of a4 said 10: only the latest extraction counts.
        _task(TEST_A, "a4", 0, "task-nps", "NPS", duration_ms=1, nps_score=10, extracted_at=OLD),
        # task-rating: a3 skipped; a4's duration comes from end - start (26 s - 1 s).
        _task(TEST_A, "a1", 1, "task-rating", "RATING_SCALE", duration_ms=5_000, rating_value=4.0),
        _task(TEST_A, "a2", 1, "task-rating", "RATING_SCALE", duration_ms=15_000, rating_value=5.0),
        _task(TEST_A, "a3", 1, "task-rating", "RATING_SCALE", duration_ms=3_000, skipped=True),
        _task(TEST_A, "a4", 1, "task-rating", "RATING_SCALE", end_time_ms=26_000, rating_value=4.0),
        # task-choice: three answer shapes, a4 skipped.
        _task(TEST_A, "a1", 2, "task-choice", "MULTIPLE_CHOICE", duration_ms=8_000, answer_json=mc_a1),
        _task(TEST_A, "a2", 2, "task-choice", "MULTIPLE_CHOICE", duration_ms=12_000, answer_json=mc_a2),
        _task(TEST_A, "a3", 2, "task-choice", "MULTIPLE_CHOICE", duration_ms=9_000, answer_json=mc_a3),
        _task(TEST_A, "a4", 2, "task-choice", "MULTIPLE_CHOICE", skipped=True),
        # task-written: skipped by half the participants (above the 0.30 alert threshold).
        _task(TEST_A, "a1", 3, "task-written", "WRITTEN", duration_ms=60_000, answer_text="Nice"),
        _task(TEST_A, "a2", 3, "task-written", "WRITTEN", skipped=True),
        _task(TEST_A, "a3", 3, "task-written", "WRITTEN", skipped=True),
        _task(TEST_A, "a4", 3, "task-written", "WRITTEN", duration_ms=45_000, answer_text="Fine"),
        # A task only in a1's older extraction: gone from the latest result, so from the marts.
        _task(TEST_A, "a1", 4, "task-gone", "WRITTEN", duration_ms=1, extracted_at=OLD),
        # Test B: NPS 2 and 5 -> NPS -100 (below the floor); a bare string and a `text` label.
        _task(TEST_B, "b1", 0, "task-b-nps", "NPS", duration_ms=7_000, nps_score=2),
        _task(TEST_B, "b2", 0, "task-b-nps", "NPS", duration_ms=9_000, nps_score=5),
        _task(
            TEST_B,
            "b1",
            1,
            "task-b-choice",
            "MULTIPLE_CHOICE",
            answer_json='{"multipleChoice": {"selected": "Yes"}}',
        ),
        _task(
            TEST_B,
            "b2",
            1,
            "task-b-choice",
            "MULTIPLE_CHOICE",
            answer_json='{"multipleChoice": {"selectedOptions": [{"text": "No"}, "Maybe"]}}',
        ),
        # Malformed JSON and an unknown skip flag must not break anything.
        _task(TEST_B, "b1", 2, "task-b-written", "WRITTEN", skipped=None, answer_json="not json {"),
    ]
    selections = {
        (TEST_A, "a1", "task-choice"): {"Option A", "Option B"},
        (TEST_A, "a2", "task-choice"): {"Option A"},
        (TEST_A, "a3", "task-choice"): {"Option C"},
        (TEST_B, "b1", "task-b-choice"): {"Yes"},
        (TEST_B, "b2", "task-b-choice"): {"No", "Maybe"},
    }

    def group(t: str, s: str, position: int, kind: str, qx: float | None, sequence: str | None = None) -> Row:
        return {
            "test_id": t,
            "session_id": s,
            "participant_id": f"participant-{s}",
            "task_group_uuid": f"group-{kind}",
            "task_group_type": kind,
            "task_group_response": "{}",
            "qx_score": qx,
            "comparison_sequence": sequence,
            "position": position,
            "extracted_at": NEW,
        }

    task_groups = [
        group(TEST_A, "a1", 0, "QX_SCORE", 80.0),
        group(TEST_A, "a1", 1, "BALANCED_COMPARISON", None, "AB"),
        group(TEST_A, "a2", 0, "QX_SCORE", 70.0),
        group(TEST_A, "a3", 0, "QX_SCORE", 60.0),
        group(TEST_B, "b1", 0, "QX_SCORE", 50.0),
        group(TEST_B, "b2", 0, "QX_SCORE", 40.0),
    ]

    def qx(score: float, extracted_at: datetime) -> Row:
        values = dict.fromkeys(
            ("behavioral", "attitudinal", "usability", "trust", "appearance", "loyalty"), 70.0
        )
        return {
            "test_id": TEST_A,
            "task_group_id": "group-QX_SCORE",
            "label": "Checkout",
            "qx_score": score,
            **values,
            "behavioral_values_json": "[]",
            "completes": 3,
            "total_qx_tasks": 1,
            "qx_json": "{}",
            "extracted_at": extracted_at,
        }

    qx_scores = [qx(72.5, NEW), qx(90.0, OLD)]  # only test A has an API QXscore

    def demographic(s: str, position: int, code: str, value: str) -> Row:
        return {
            "test_id": TEST_A if s.startswith("a") else TEST_B,
            "session_id": s,
            "participant_id": f"participant-{s}",
            "demographic_id": f"dem-{code}",
            "demographic_code": code,
            "label": code.title(),
            "value": value,
            "values_json": f'["{value}"]',
            "type": "DEMOGRAPHIC_QUESTION_TYPE_SINGLE",
            "position": position,
            "extracted_at": NEW,
        }

    demographics = [
        demographic("a1", 0, "GENDER", "Female"),
        demographic("a1", 1, "AGE_GROUP", "25-34"),
        demographic("a1", 2, "COUNTRY", "US"),
        demographic("a2", 0, "GENDER", "Male"),
        demographic("b1", 0, "income", "50k-75k"),
    ]

    def transcript(s: str, extracted_at: datetime) -> Row:
        return {
            "test_id": TEST_A,
            "session_id": s,
            "transcript_vtt": "WEBVTT\n\n00:00.000 --> 00:01.000\nHello",
            "transcript_plain_text": "Hello",
            "cue_count": 1,
            "duration_ms": 1000,
            "extracted_at": extracted_at,
        }

    transcripts = [transcript("a1", NEW), transcript("a2", OLD), transcript("a2", NEW)]
    session_videos = [
        {
            "test_id": TEST_A,
            "session_id": "a1",
            "video_storage_path": "s3://bucket/a1.mp4",
            "size_bytes": 1024,
            "sha256": "0" * 64,
            "content_type": "video/mp4",
            "downloaded_at": NEW,
        }
    ]
    # The test list names test A only (B is not listed yet), and an old title of A was replaced.
    tests = [
        {
            "test_id": TEST_A,
            "title": title,
            "product_type": "THINK_OUT_LOUD",
            "study_type": "STUDYV2",
            "workspace_id": TEST_B,
            "workspace_name": "Research",
            "ordered_at": START,
            "syncable": True,
            "extracted_at": extracted_at,
        }
        for title, extracted_at in (("Checkout (draft)", OLD), (TITLE_A, NEW))
    ]
    rows = {
        "tests": tests,
        "raw_sessions": raw_sessions,
        "sessions": sessions,
        "tasks": tasks,
        "task_groups": task_groups,
        "qx_scores": qx_scores,
        "demographics": demographics,
        "transcripts": transcripts,
        "session_videos": session_videos,
    }
    return rows, selections


def _literal(value: Any, logical_type: str, dialect: str) -> str:
    if value is None:
        return "NULL"
    if logical_type == BOOLEAN:
        return "TRUE" if value else "FALSE"
    if logical_type in (BIGINT, DOUBLE):
        return repr(value)
    if logical_type == TIMESTAMP:
        return f"CAST('{value.isoformat(sep=' ')}' AS TIMESTAMP)"
    text = str(value).replace("'", "''")
    # Snowflake string literals treat backslashes as escapes; DuckDB's do not.
    return "'" + (text.replace("\\", "\\\\") if dialect == "snowflake" else text) + "'"


def create_tables(execute: Callable[[str], Any], rows: Mapping[str, list[Row]], dialect: str) -> None:
    """CREATE the raw tables that have rows (columns from schema.py) and INSERT the rows."""
    execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for name, table_rows in rows.items():
        table = ALL_TABLES[name]
        columns = ", ".join(f"{c.name} {c.type.dbt}" for c in table.columns)
        execute(f"CREATE TABLE {SCHEMA}.{name} ({columns})")
        values = ",\n".join(
            "(" + ", ".join(_literal(row[c.name], c.type, dialect) for c in table.columns) + ")"
            for row in table_rows
        )
        execute(f"INSERT INTO {SCHEMA}.{name} ({', '.join(table.column_names)}) VALUES {values}")


# Expected mart values, in plain Python.


def _latest(
    rows: Iterable[Row], key: Callable[[Row], tuple], extraction: Callable[[Row], tuple] | None = None
) -> list[Row]:
    rows = list(rows)
    if extraction:
        newest = defaultdict(lambda: datetime.min)
        for r in rows:
            newest[extraction(r)] = max(newest[extraction(r)], r["extracted_at"])
        rows = [r for r in rows if r["extracted_at"] == newest[extraction(r)]]
    kept: dict[tuple, Row] = {}
    for r in rows:
        if key(r) not in kept or r["extracted_at"] > kept[key(r)]["extracted_at"]:
            kept[key(r)] = r
    return list(kept.values())


def latest_tasks(rows: Mapping[str, list[Row]]) -> list[Row]:
    return _latest(
        rows["tasks"],
        lambda r: (r["test_id"], r["session_id"], r["position"]),
        lambda r: (r["test_id"], r["session_id"]),
    )


def percentile_cont(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks, as SQL's PERCENTILE_CONT."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _nps(scores: list[int]) -> float | None:
    valid = [s for s in scores if 0 <= s <= 10]
    if not valid:
        return None
    return 100.0 * (sum(s >= 9 for s in valid) - sum(s <= 6 for s in valid)) / len(valid)


def _seconds(task: Row) -> float | None:
    ms = task["duration_ms"] if task["duration_ms"] is not None else None
    if ms is None and task["end_time_ms"] is not None:
        ms = task["end_time_ms"] - task["start_time_ms"]
    return ms / 1000 if ms is not None and ms >= 0 else None


def expected_task_metrics(rows: Mapping[str, list[Row]]) -> dict[tuple[str, str], Row]:
    by_task: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for t in latest_tasks(rows):
        by_task[(t["test_id"], t["task_uuid"])].append(t)
    result = {}
    for key, tasks in by_task.items():
        sessions = len({t["session_id"] for t in tasks})
        done = [t for t in tasks if t["skipped"] is False]
        times = [s for t in done if (s := _seconds(t)) is not None]
        ratings = [t["rating_value"] for t in tasks if t["rating_value"] is not None]
        result[key] = {
            "sessions": sessions,
            "completed_sessions": len(done),
            "skipped_sessions": sum(t["skipped"] is True for t in tasks),
            "completion_rate": len(done) / sessions,
            "skip_rate": sum(t["skipped"] is True for t in tasks) / sessions,
            "median_time_on_task_seconds": statistics.median(times) if times else None,
            "p90_time_on_task_seconds": percentile_cont(times, 0.9),
            "rating_mean": statistics.mean(ratings) if ratings else None,
            "nps": _nps([t["nps_score"] for t in tasks if t["nps_score"] is not None]),
        }
    return result


def expected_option_shares(
    selections: Mapping[tuple[str, str, str], set[str]],
) -> dict[tuple[str, str, str], float]:
    responding: dict[tuple[str, str], int] = defaultdict(int)
    chosen: dict[tuple[str, str, str], int] = defaultdict(int)
    for (test_id, _session, task), options in selections.items():
        responding[(test_id, task)] += 1
        for option in options:
            chosen[(test_id, task, option)] += 1
    return {key: count / responding[key[:2]] for key, count in chosen.items()}


def _session_keys(rows: Mapping[str, list[Row]]) -> set[tuple[str, str]]:
    return {(r["test_id"], r["session_id"]) for table in ("raw_sessions", "sessions") for r in rows[table]}


def expected_session_summary(rows: Mapping[str, list[Row]]) -> dict[tuple[str, str], Row]:
    listing = {
        (r["test_id"], r["session_id"]): r
        for r in _latest(rows["raw_sessions"], lambda r: (r["test_id"], r["session_id"]))
    }
    tasks = latest_tasks(rows)
    groups = rows["task_groups"]
    result = {}
    for key in _session_keys(rows):
        own = [t for t in tasks if (t["test_id"], t["session_id"]) == key]
        qx = [
            g["qx_score"]
            for g in groups
            if (g["test_id"], g["session_id"]) == key and g["task_group_type"] == "QX_SCORE"
        ]
        listed = listing.get(key)
        finish = listed["finish_time"] if listed else None
        result[key] = {
            "tasks_total": len(own),
            "tasks_completed": sum(t["skipped"] is False for t in own),
            "tasks_skipped": sum(t["skipped"] is True for t in own),
            "qx_score": statistics.mean(qx) if qx else None,
            "session_duration_seconds": (finish - listed["start_time"]).total_seconds() if finish else None,
            "has_transcript": any(
                (r["test_id"], r["session_id"]) == key for r in rows.get("transcripts", [])
            ),
            "has_video": any((r["test_id"], r["session_id"]) == key for r in rows.get("session_videos", [])),
        }
    return result


def expected_test_summary(rows: Mapping[str, list[Row]]) -> dict[str, Row]:
    summaries = expected_session_summary(rows)
    api_qx = _latest(rows.get("qx_scores", []), lambda r: (r["test_id"], r["task_group_id"]))
    tasks = latest_tasks(rows)
    result = {}
    for test_id in {k[0] for k in summaries}:
        own = [v for k, v in summaries.items() if k[0] == test_id]
        session_qx = [s["qx_score"] for s in own if s["qx_score"] is not None]
        api = [q["qx_score"] for q in api_qx if q["test_id"] == test_id]
        answered = [t for t in tasks if t["test_id"] == test_id and t["skipped"] is not None]
        titles = _latest(rows.get("tests", []), lambda r: (r["test_id"].lower(),))
        result[test_id] = {
            "title": next((t["title"] for t in titles if t["test_id"].lower() == test_id.lower()), None),
            "sessions": len(own),
            "nps": _nps(
                [t["nps_score"] for t in tasks if t["test_id"] == test_id and t["nps_score"] is not None]
            ),
            "qx_score": statistics.mean(api)
            if api
            else (statistics.mean(session_qx) if session_qx else None),
            "qx_score_source": "api" if api else ("sessions" if session_qx else None),
            "task_skip_rate": sum(t["skipped"] for t in answered) / len(answered),
            "transcript_coverage": sum(s["has_transcript"] for s in own) / len(own),
            "video_coverage": sum(s["has_video"] for s in own) / len(own),
        }
    return result

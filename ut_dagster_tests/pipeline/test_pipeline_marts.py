"""End to end: sandbox API -> sync -> one `dbt build` through Dagster -> marts equal plain Python.

Every expected value is computed here from what the sandbox served (the v3 session payloads,
transcripts and QXscore responses), following the mart definitions in dbt_project/README.md and
the mart SQL; nothing is read back from the raw or staging tables. A bug in the sync, the
normalizer, staging or the marts therefore shows up as a difference.

One test function: the sync and the dbt build cost seconds, and `make_pipeline` is per test.
"""

import json
import statistics
from collections import defaultdict
from typing import Any

import duckdb
import pytest
from dagster import materialize

from dagster_usertesting.lib.normalize import parse_cues
from dagster_usertesting.testing import INTERACTION, SURVEY, THINK_OUT_LOUD, StudySpec

# Ten sessions each: every guaranteed edge case up to ordinal 9 (an extra answer key, a mismatched
# answer key, missing participants, a never-reached task, a null answer, a missing transcript).
STUDIES = (StudySpec(THINK_OUT_LOUD, 10), StudySpec(INTERACTION, 10), StudySpec(SURVEY, 10))
# A seed whose NPS answers include 0, 6, 7, 8, 9 and 10: every category boundary is exercised
# (the default seed has no 6, so "detractors are 0-5" would go unnoticed).
SEED = 11


# -- reading the served payloads ----------------------------------------------------------------


def _response(task: dict[str, Any]) -> dict[str, Any] | None:
    return task.get("response")


def _answer(task: dict[str, Any]) -> dict[str, Any]:
    answer = (_response(task) or {}).get("answer")
    return answer if isinstance(answer, dict) else {}


def _skipped(task: dict[str, Any]) -> bool | None:
    """True / False as served; None for a task the participant never reached (no response)."""
    response = _response(task)
    return None if response is None else response.get("skipped")


def _nps(task: dict[str, Any]) -> int | None:
    """The answer at `answer.nps.score`, when it is an integer from 0 to 10."""
    score = (_answer(task).get("nps") or {}).get("score")
    valid = isinstance(score, int) and not isinstance(score, bool) and 0 <= score <= 10
    return score if valid else None


def _rating(task: dict[str, Any]) -> float | None:
    value = (_answer(task).get("ratingScale") or {}).get("value")
    return float(value) if isinstance(value, int | float) else None


def _seconds_on_task(task: dict[str, Any]) -> float | None:
    response = _response(task) or {}
    start, end = response.get("startTimeMs"), response.get("endTimeMs")
    if start is None or end is None or end < start:
        return None
    return (end - start) / 1000


def _selected_options(task: dict[str, Any]) -> set[str]:
    """Options chosen in a multiple-choice answer (sandbox shape `multipleChoice.selected`)."""
    if _skipped(task) is not False:
        return set()
    choice = _answer(task).get("multipleChoice") or {}
    return {o for o in choice.get("selected") or [] if isinstance(o, str)}


def _nps_value(scores: list[int]) -> float | None:
    if not scores:
        return None
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    return 100 * (promoters - detractors) / len(scores)


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _percentile(values: list[float], fraction: float) -> float | None:
    """A continuous percentile: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _session_qx(payload: dict[str, Any]) -> float | None:
    """The participant's QXscore: the mean over the session's QX_SCORE task groups (0-100)."""
    scores = [
        float(score)
        for group in payload.get("taskGroups") or []
        if group.get("type") == "QX_SCORE"
        and isinstance(score := (group.get("response") or {}).get("score"), int | float)
        and 0 <= score <= 100
    ]
    return _mean(scores)


def _api_qx(response: dict[str, Any] | None) -> float | None:
    """The API's test QXscore: the mean over its QX task groups' scores."""
    if response is None:
        return None
    scores = [
        float(item["qxScore"])
        for item in response["qxScores"]
        if isinstance(item.get("qxScore"), int | float) and 0 <= item["qxScore"] <= 100
    ]
    return _mean(scores)


# -- expected marts -----------------------------------------------------------------------------


def expected_session_summary(dataset, test_id: str) -> dict[str, dict[str, Any]]:
    expected = {}
    for session_id in dataset.session_ids(test_id):
        payload = dataset.served_payload(session_id)
        tasks = payload["tasks"]
        nps_answers = [s for t in tasks if (s := _nps(t)) is not None]
        done_seconds = [d for t in tasks if _skipped(t) is False and (d := _seconds_on_task(t)) is not None]
        expected[session_id] = {
            "participant_id": (payload.get("sessionParticipant") or {}).get("participantId"),
            "tasks_total": len(tasks),
            "tasks_completed": sum(_skipped(t) is False for t in tasks),
            "tasks_skipped": sum(_skipped(t) is True for t in tasks),
            "time_on_tasks_seconds": sum(done_seconds) if done_seconds else None,
            "nps_score": _mean(nps_answers),
            "qx_score": _session_qx(payload),
            "has_transcript": dataset.transcript(session_id) is not None,
        }
    return expected


def expected_task_metrics(dataset, test_id: str) -> dict[str, dict[str, Any]]:
    sessions: dict[str, set[str]] = defaultdict(set)
    completed: dict[str, set[str]] = defaultdict(set)
    skipped: dict[str, set[str]] = defaultdict(set)
    times: dict[str, list[float]] = defaultdict(list)
    ratings: dict[str, list[float]] = defaultdict(list)
    nps: dict[str, list[int]] = defaultdict(list)
    for session_id in dataset.session_ids(test_id):
        for task in dataset.served_payload(session_id)["tasks"]:
            uuid = task.get("uuid")
            if uuid is None:
                continue
            sessions[uuid].add(session_id)
            if _skipped(task) is True:
                skipped[uuid].add(session_id)
            elif _skipped(task) is False:
                completed[uuid].add(session_id)
                if (seconds := _seconds_on_task(task)) is not None:
                    times[uuid].append(seconds)
            if (rating := _rating(task)) is not None:
                ratings[uuid].append(rating)
            if (score := _nps(task)) is not None:
                nps[uuid].append(score)
    return {
        uuid: {
            "sessions": len(done_by),
            "completed_sessions": len(completed[uuid]),
            "skipped_sessions": len(skipped[uuid]),
            # Denominator: every session whose result lists the task, reached or not.
            "completion_rate": len(completed[uuid]) / len(done_by),
            "skip_rate": len(skipped[uuid]) / len(done_by),
            "median_time_on_task_seconds": _median(times[uuid]),
            "p90_time_on_task_seconds": _percentile(times[uuid], 0.9),
            "rating_responses": len(ratings[uuid]),
            "rating_mean": _mean(ratings[uuid]),
            "nps_responses": len(nps[uuid]),
            "nps": _nps_value(nps[uuid]),
        }
        for uuid, done_by in sessions.items()
    }


def expected_option_shares(dataset, test_id: str) -> dict[tuple[str, str], tuple[int, int, float]]:
    """(task_uuid, option) -> (participants who chose it, participants who chose any, share)."""
    chosen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    responding: dict[str, set[str]] = defaultdict(set)
    for session_id in dataset.session_ids(test_id):
        for task in dataset.served_payload(session_id)["tasks"]:
            options = _selected_options(task)
            if task.get("uuid") is None or not options:
                continue
            responding[task["uuid"]].add(session_id)
            for option in options:
                chosen[task["uuid"]][option].add(session_id)
    return {
        (uuid, option): (len(by), len(responding[uuid]), len(by) / len(responding[uuid]))
        for uuid, options in chosen.items()
        for option, by in options.items()
    }


def expected_test_summary(dataset, test_id: str) -> dict[str, Any]:
    session_ids = dataset.session_ids(test_id)
    payloads = [dataset.served_payload(s) for s in session_ids]
    tasks = [t for p in payloads for t in p["tasks"]]
    flags = [f for t in tasks if (f := _skipped(t)) is not None]
    nps_answers = [s for t in tasks if (s := _nps(t)) is not None]
    participants = {(p.get("sessionParticipant") or {}).get("participantId") for p in payloads} - {None}
    session_qx = [q for p in payloads if (q := _session_qx(p)) is not None]
    api_qx = _api_qx(dataset.qx_scores(test_id))
    with_transcript = sum(dataset.transcript(s) is not None for s in session_ids)
    return {
        "sessions": len(session_ids),
        "participants": len(participants),
        "tasks": len({t["uuid"] for t in tasks if t.get("uuid") is not None}),
        # Denominator: the tasks participants reached (a never-reached task has no skipped flag).
        "task_skip_rate": sum(flags) / len(flags),
        "nps_responses": len(nps_answers),
        "nps": _nps_value(nps_answers),
        "api_qx_score": api_qx,
        "session_mean_qx_score": _mean(session_qx),
        "sessions_with_qx_score": len(session_qx),
        "qx_score": api_qx if api_qx is not None else _mean(session_qx),
        "qx_score_source": "api" if api_qx is not None else "sessions" if session_qx else None,
        "sessions_with_transcript": with_transcript,
        "transcript_coverage": with_transcript / len(session_ids),
    }


# -- the test -----------------------------------------------------------------------------------


def _approx(value: Any) -> Any:
    return pytest.approx(value) if isinstance(value, float) else value


def _rows(pipeline, sql: str) -> list[dict[str, Any]]:
    # Plain Python values (None for SQL NULL), not pandas' NaN.
    with duckdb.connect(str(pipeline.settings.duckdb_path), read_only=True) as connection:
        cursor = connection.execute(sql)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _picked(got: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    return {k: got[k] for k in want}


def _approx_all(want: dict[str, Any]) -> dict[str, Any]:
    return {k: _approx(v) for k, v in want.items()}


def test_marts_built_after_a_sync_match_what_the_api_served(make_pipeline, usertesting_dbt_assets):
    pipeline = make_pipeline(seed=SEED, studies=STUDIES)
    dataset = pipeline.sandbox.dataset
    test_ids = pipeline.sandbox.test_ids
    tol, interaction, survey = test_ids
    served_nps = {
        s
        for sid in dataset.session_ids(tol)
        for t in dataset.served_payload(sid)["tasks"]
        if (s := _nps(t)) is not None
    }
    assert {0, 6, 7, 8, 9, 10} <= served_nps, "pick a SEED whose NPS answers cross every boundary"
    assert pipeline.sync() == 0

    result = materialize(
        [usertesting_dbt_assets],
        resources={"dbt": pipeline.defs.resources["dbt"]},
        instance=pipeline.instance,
    )
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(
        usertesting_dbt_assets.keys
    )

    # test_summary: one row per synced test.
    summary = {r["test_id"]: r for r in _rows(pipeline, "select * from usertesting_marts.test_summary")}
    assert set(summary) == set(test_ids)
    for test_id in test_ids:
        want = expected_test_summary(dataset, test_id)
        assert _picked(summary[test_id], want) == _approx_all(want), test_id
    # Headline facts of this dataset, so the expectations above cannot be vacuous.
    assert summary[tol]["transcript_coverage"] == pytest.approx(0.9)  # ordinal 9's is not ready
    assert summary[interaction]["transcript_coverage"] == summary[survey]["transcript_coverage"] == 0
    assert summary[interaction]["qx_score_source"] == "api"
    assert summary[interaction]["api_qx_score"] != pytest.approx(
        summary[interaction]["session_mean_qx_score"]
    )
    assert summary[tol]["qx_score"] is None and summary[survey]["qx_score"] is None
    assert summary[tol]["nps_responses"] > 0 and summary[survey]["nps_responses"] > 0
    assert summary[interaction]["nps"] is None  # its plan has no NPS task

    # task_metrics: one row per test and task.
    metrics = {
        (r["test_id"], r["task_uuid"]): r
        for r in _rows(pipeline, "select * from usertesting_marts.task_metrics")
    }
    expected_metrics = {
        (test_id, uuid): want
        for test_id in test_ids
        for uuid, want in expected_task_metrics(dataset, test_id).items()
    }
    assert set(metrics) == set(expected_metrics)
    for key, want in expected_metrics.items():
        assert _picked(metrics[key], want) == _approx_all(want), key
    # Some task was skipped, and some was never reached (counted as a session, neither done nor skipped).
    assert any(m["skipped_sessions"] for m in metrics.values())
    assert any(m["completed_sessions"] + m["skipped_sessions"] < m["sessions"] for m in metrics.values())

    # task_option_shares: every multiple-choice option chosen, and nothing else.
    shares = {
        (r["test_id"], r["task_uuid"], r["option_label"]): (
            r["selections"],
            r["responding_sessions"],
            r["share"],
        )
        for r in _rows(pipeline, "select * from usertesting_marts.task_option_shares")
    }
    expected_shares = {
        (test_id, uuid, option): (chose, responding, pytest.approx(share))
        for test_id in test_ids
        for (uuid, option), (chose, responding, share) in expected_option_shares(dataset, test_id).items()
    }
    assert shares == expected_shares
    # Every multiple-choice task has options; a multi-select task's shares add up to more than 1.
    share_sums: dict[tuple[str, str], float] = defaultdict(float)
    for (test_id, uuid, _), (_, _, share) in shares.items():
        share_sums[(test_id, uuid)] += share
    assert set(share_sums) == {
        (test_id, task.uuid)
        for test_id in test_ids
        for task in dataset.study(test_id).tasks
        if task.type == "MULTIPLE_CHOICE"
    }
    assert max(share_sums.values()) > 1

    # session_summary: every session of every test.
    sessions = {
        r["session_id"]: r for r in _rows(pipeline, "select * from usertesting_marts.session_summary")
    }
    expected_sessions = {
        session_id: want
        for test_id in test_ids
        for session_id, want in expected_session_summary(dataset, test_id).items()
    }
    assert set(sessions) == set(expected_sessions)
    for session_id, want in expected_sessions.items():
        assert _picked(sessions[session_id], want) == _approx_all(want), session_id

    # clip_evidence: every clip served, with what was said during it and the task on screen.
    evidence = {r["clip_id"]: r for r in _rows(pipeline, "select * from usertesting_marts.clip_evidence")}
    expected_clips = expected_clip_evidence(dataset, test_ids)
    assert set(evidence) == set(expected_clips) and expected_clips
    for clip_id, want in expected_clips.items():
        assert _picked(evidence[clip_id], want) == want, clip_id
    assert any(r["transcript_text"] for r in evidence.values())
    assert any(r["task_at_clip_start"] for r in evidence.values())
    assert all(json.loads(r["task_answers_json"]) for r in evidence.values() if r["participant_id"])


def expected_clip_evidence(dataset: Any, test_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per clip served now: its name, description, the transcript text of the cues overlapping it,
    and the served task whose timing holds the clip's start."""
    out: dict[str, dict[str, Any]] = {}
    for test_id in test_ids:
        for session_id in dataset.session_ids(test_id):
            body = dataset.session_clips(session_id)
            vtt = dataset.transcript(session_id)
            tasks = dataset.served_payload(session_id)["tasks"]
            for clip in body["clips"] if body else []:
                start, end = round(clip["timeStartMs"]), clip["timeEndMs"]
                said = None
                if vtt is not None:
                    cues = sorted(parse_cues(vtt), key=lambda c: c.start_ms)
                    said = "\n".join(c.text for c in cues if c.start_ms < end and c.end_ms > start)
                on_screen = [
                    t["text"]
                    for t in tasks
                    if (r := t.get("response"))
                    and r.get("startTimeMs") is not None
                    and r["startTimeMs"] <= start < r["endTimeMs"]
                ]
                out[clip["uuid"]] = {
                    "test_id": test_id,
                    "session_id": session_id,
                    "clip_name": clip["name"],
                    "clip_description": clip.get("description"),
                    "transcript_text": said,
                    "task_at_clip_start": on_screen[0] if on_screen else None,
                }
    return out

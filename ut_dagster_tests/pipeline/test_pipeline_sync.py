"""End to end: the sandbox API synced by real Dagster runs into a real DuckDB file."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.testing import INTERACTION, SURVEY, THINK_OUT_LOUD, StudySpec
from dagster_usertesting.testing.routes import ApiRoutes, Response

STUDIES = (StudySpec(THINK_OUT_LOUD, 12), StudySpec(INTERACTION, 11), StudySpec(SURVEY, 10))
SESSION_TABLES = ("raw_sessions", "session_details", "sessions", "demographics", "task_groups", "tasks")


@pytest.fixture
def synced(make_pipeline):
    pipeline = make_pipeline(studies=STUDIES)
    assert pipeline.sync() == 0
    return pipeline


def test_every_table_matches_what_the_api_served(synced, assert_synced_as_served):
    assert_synced_as_served(synced, synced.sandbox.test_ids)

    # Payloads the spec allows but a naive sync would choke on are kept, not dropped.
    sessions = synced.table("sessions")
    assert sessions["participant_id"].isna().any()  # sessionParticipant or participantId null
    tasks = synced.table("tasks")
    assert not set(tasks.task_type.dropna()) <= {
        "BLANK",
        "RATING_SCALE",
        "MULTIPLE_CHOICE",
        "IMAGE",
        "NPS",
        "URL",
        "RANK_ORDER",
        "WRITTEN",
        "FIGMA",
        "MATRIX",
        "UNRECOGNIZED",
    }
    assert tasks["answer_json"].isna().any() and tasks["nps_score"].notna().any()


def test_rerun_of_unchanged_tests_costs_one_request_each_and_changes_nothing(synced):
    before = {
        t: synced.table(t).sort_values(["test_id", "session_id"]).reset_index(drop=True)
        for t in SESSION_TABLES
    }
    synced.sandbox.reset_requests()

    assert synced.sync() == 0

    assert len(synced.sandbox.requests) == len(synced.sandbox.test_ids)
    assert all(r["path"] == "/api/v2/sessionResults" for r in synced.sandbox.requests)
    for table, frame in before.items():
        after = synced.table(table).sort_values(["test_id", "session_id"]).reset_index(drop=True)
        assert len(after) == len(frame), table
        assert after.drop(columns=["extracted_at"]).equals(frame.drop(columns=["extracted_at"])), table


def test_late_arrivals_and_finish_time_ties_are_synced_next_run(synced):
    test_id = synced.sandbox.test_ids[2]
    oldest = min(r.finish_time for r in synced.sandbox.dataset.sessions(test_id) if r.finish_time)
    newest = max(r.finish_time for r in synced.sandbox.dataset.sessions(test_id) if r.finish_time)
    late = synced.sandbox.add_sessions(test_id, 2, finish_time=oldest - timedelta(hours=1))
    tied = synced.sandbox.add_sessions(test_id, 2, finish_time=newest)
    synced.sandbox.reset_requests()

    assert synced.sync([test_id]) == 0

    assert set(late + tied) <= set(synced.table("sessions", test_id)["session_id"])
    detail_requests = synced.api_requests("/api/v3/sessionResults/")
    assert sorted(r["path"].rsplit("/", 1)[1] for r in detail_requests) == sorted(late + tied)


def test_sessions_arriving_while_paging_are_synced_once(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 9),), arrivals_per_list_request=2)
    pipeline.defs.resources["usertesting"]
    assert pipeline.sync() == 0
    raw = pipeline.table("raw_sessions")
    assert raw["session_id"].is_unique
    details = [r["path"] for r in pipeline.api_requests("/api/v3/")]
    assert len(details) == len(set(details)) == len(raw)


def test_details_json_is_the_text_landed_as_served(make_pipeline, monkeypatch):
    # Tab-indented, keys sorted, odd separators, non-ASCII escaped: text that no re-encoding of the
    # parsed payload would give back, so the warehouse can only hold it by keeping what was served.
    def spelled_oddly(payload: object) -> bytes:
        return json.dumps(payload, indent="\t", sort_keys=True, separators=(" ,", " : ")).encode()

    serve = ApiRoutes.session_details

    def session_details(self: ApiRoutes, record) -> Response:
        response = serve(self, record)
        response.body = spelled_oddly(self._dataset.served_payload(record.session_id))
        return response

    monkeypatch.setattr(ApiRoutes, "session_details", session_details)
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 4),))
    test_id = pipeline.sandbox.test_ids[0]

    assert pipeline.sync() == 0

    landing = Landing(LocalObjectStore(pipeline.settings.object_store))
    latest = [objs[0] for objs in landing.latest_by_session(TestId(test_id), "session_details").values()]
    landed = {obj.session_id: body for obj, body in landing.read_many(latest)}
    rows = pipeline.table("session_details", test_id)
    assert len(rows) == len(landed) == 4
    for row in rows.itertuples():
        served = spelled_oddly(pipeline.sandbox.dataset.served_payload(row.session_id))
        assert row.details_json.encode() == landed[row.session_id] == served


def test_malformed_payload_is_recorded_and_the_rest_land_then_retried(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 6),))
    test_id = pipeline.sandbox.test_ids[0]
    broken = pipeline.sandbox.dataset.session_ids(test_id)[1]
    pipeline.sandbox.config.malformed_session_ids = {broken}

    assert pipeline.sync() == 0
    assert broken not in set(pipeline.table("session_details")["session_id"])
    assert len(pipeline.table("sessions")) == 5
    check = pipeline.instance.get_latest_asset_check_evaluation_record(
        _check_key("session_details", "all_sessions_parsed")
    )
    assert check is not None and check.evaluation.passed is False

    pipeline.sandbox.config.malformed_session_ids = set()
    pipeline.sandbox.reset_requests()
    assert pipeline.sync() == 0  # the failing session backs off: not asked again at once
    assert pipeline.api_requests("/api/v3/") == []
    assert pipeline.sync(retry_failed=True) == 0
    assert len(pipeline.table("sessions")) == 6
    assert [r["path"] for r in pipeline.api_requests("/api/v3/")] == [f"/api/v3/sessionResults/{broken}"]


def test_missing_transcript_is_asked_again_only_while_it_may_appear(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 3),))
    test_id = pipeline.sandbox.test_ids[0]
    fresh = pipeline.sandbox.add_sessions(test_id, 1, finish_time=datetime.now(UTC))[0]
    old = pipeline.sandbox.dataset.session_ids(test_id)[-1]
    for session_id in (fresh, old):
        pipeline.sandbox.set_transcript_available(session_id, False)
    recheck_now = {"ops": {"transcript_tables": {"config": {"transcript_recheck_hours": 0.0}}}}

    assert pipeline.sync() == 0
    for session_id in (fresh, old):
        pipeline.sandbox.set_transcript_available(session_id, True)
    pipeline.sandbox.reset_requests()
    assert pipeline.sync(run_config=recheck_now) == 0

    # The fresh session's transcript appeared and was fetched; the old one is past the wait window.
    assert [r["path"] for r in pipeline.api_requests("/transcript")] == [
        f"/api/v2/sessionResults/{fresh}/transcript"
    ]
    assert fresh in set(pipeline.table("transcripts")["session_id"])
    assert old not in set(pipeline.table("transcripts")["session_id"])


def test_empty_test_still_creates_every_table(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 0),))
    assert pipeline.sync() == 0
    for table in (*SESSION_TABLES, "transcripts", "transcript_chunks", "qx_scores"):
        assert len(pipeline.table(table)) == 0


def test_full_mode_refetches_everything(synced):
    test_id = synced.sandbox.test_ids[2]
    synced.sandbox.reset_requests()
    assert synced.sync([test_id], full=True) == 0
    details = synced.api_requests("/api/v3/")
    assert len(details) == len(synced.sandbox.dataset.session_ids(test_id))
    assert synced.table("sessions", test_id)["session_id"].is_unique


def _check_key(asset: str, name: str):
    from dagster import AssetCheckKey, AssetKey

    return AssetCheckKey(AssetKey(["usertesting", asset]), name)


def test_a_test_without_transcripts_stops_costing_transcript_requests(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 30), StudySpec(THINK_OUT_LOUD, 14)))
    survey, think_aloud = pipeline.sandbox.test_ids

    assert pipeline.sync() == 0
    asked = Counter(r["path"].split("/")[4] for r in pipeline.api_requests("/transcript"))
    survey_sessions = set(pipeline.sandbox.dataset.session_ids(survey))
    # Ten settled 404s and no transcript at all: the survey's other 20 sessions are not asked.
    assert sum(n for s, n in asked.items() if s in survey_sessions) == 10
    assert set(pipeline.sandbox.dataset.session_ids(think_aloud)) <= set(asked)

    pipeline.sandbox.add_sessions(survey, 3)
    pipeline.sandbox.reset_requests()
    assert pipeline.sync([survey]) == 0
    assert pipeline.api_requests("/transcript") == []


def test_a_test_without_videos_stops_costing_video_link_requests(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 15),))
    assert pipeline.sync(videos=True) == 0
    assert len(pipeline.api_requests("/videoDownloadUrl")) == 10
    pipeline.sandbox.reset_requests()
    assert pipeline.sync(videos=True) == 0
    assert pipeline.api_requests("/videoDownloadUrl") == []
    assert len(pipeline.table("session_videos")) == 0


def test_qx_scores_are_asked_only_for_tests_with_qx_groups_and_only_when_sessions_change(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 4), StudySpec(INTERACTION, 4)))
    survey, interaction = pipeline.sandbox.test_ids

    assert pipeline.sync() == 0
    assert [r["path"] for r in pipeline.api_requests("/qxScores")] == [
        f"/api/v2/testResults/{interaction}/qxScores"
    ]

    for test_id in (survey, interaction):
        pipeline.sandbox.add_sessions(test_id, 1)
    pipeline.sandbox.reset_requests()
    assert pipeline.sync() == 0
    assert [r["path"] for r in pipeline.api_requests("/qxScores")] == [
        f"/api/v2/testResults/{interaction}/qxScores"
    ]

    pipeline.sandbox.reset_requests()
    assert pipeline.sync() == 0
    assert pipeline.api_requests("/qxScores") == []

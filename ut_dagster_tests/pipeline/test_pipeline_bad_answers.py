"""Months of unattended syncs against an API that sometimes answers wrong: nothing held is lost.

Each scenario is one seen in production (issue 16), driven through the sandbox's scripted faults over
the real client, real Dagster runs, a real DuckDB file and the landing area.
"""

from pathlib import Path

import duckdb
import pytest

from dagster_usertesting.defs.sync_need import sync_need
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.sync.state import DETAILS, TRANSCRIPT, SyncState
from dagster_usertesting.testing import INTERACTION, SURVEY, THINK_OUT_LOUD, StudySpec

ROOMY = {"requests_per_window": 5000, "window_seconds": 1.0, "video_size_bytes": 2048}
TABLES = ("raw_sessions", "session_details", "sessions", "tasks", "transcripts")


def _landing(pipeline) -> Landing:
    return Landing(LocalObjectStore(pipeline.settings.object_store))


def _held(pipeline, test_id: str) -> dict[str, object]:
    """Everything the project holds of a test: rows per table, landed payloads, archived videos."""
    landing = _landing(pipeline)
    held: dict[str, object] = {t: sorted(pipeline.table(t, test_id)["session_id"]) for t in TABLES}
    for folder in ("session_details", "transcripts"):
        held[f"landed {folder}"] = sorted(landing.latest_by_session(TestId(test_id), folder))
    held["videos"] = sorted(landing.store.list_keys(f"videos/{test_id}/"))
    return held


def _detail_ids(pipeline) -> list[str]:
    return sorted(r["path"].rsplit("/", 1)[1] for r in pipeline.api_requests("/api/v3/sessionResults/"))


def _check(pipeline, asset: str, name: str):
    from dagster import AssetCheckKey, AssetKey

    record = pipeline.instance.get_latest_asset_check_evaluation_record(
        AssetCheckKey(AssetKey(["usertesting", asset]), name)
    )
    assert record is not None, name
    return record.evaluation


@pytest.mark.parametrize(
    "fault",
    [
        "empty",  # 200 {"sessions": [], totalCount: 0}
        "empty_keep_count",  # no sessions, the true totalCount
        "renamed",  # every item's sessionId under another name
    ],
)
def test_one_bad_listing_answer_removes_nothing(make_pipeline, fault):
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 12),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync(videos=True) == 0
    before = _held(pipeline, test_id)
    assert len(before["sessions"]) == 12 and len(before["videos"]) == 24  # video + record each

    pipeline.sandbox.listing_faults(test_id, fault)
    assert pipeline.sync(reconcile=True, videos=True) == 0

    assert _held(pipeline, test_id) == before
    # The next consistent walk lists them all: nothing waits to be removed.
    assert pipeline.sync(reconcile=True) == 0
    assert _check(pipeline, "raw_sessions", "no_removal_awaiting_confirmation").passed
    assert _held(pipeline, test_id) == before


def test_a_walk_on_an_empty_answer_keeps_everything_and_says_so_until_a_later_walk_disagrees(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 12),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    before = _held(pipeline, test_id)

    pipeline.sandbox.listing_faults(test_id, "empty")
    assert pipeline.sync() == 0  # a plain sync: the count below what is held makes it walk

    assert _held(pipeline, test_id) == before
    check = _check(pipeline, "raw_sessions", "no_removal_awaiting_confirmation")
    assert not check.passed
    assert check.metadata["sessions_awaiting_removal"].value == 12


def test_a_count_too_low_does_not_remove_the_sessions_it_leaves_out(make_pipeline):
    # Seen: a totalCount 100 too low on a 600-session test (pages of 500) removed 100 live sessions.
    # Here 5 too low on 105 (pages of 50): the pages up to the count add up, and 5 is within what
    # one walk may remove, so only asking past a full last page shows the count is wrong.
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 105),), api={"page_size": 50}, **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    before = _held(pipeline, test_id)

    pipeline.sandbox.configure(listing_count_bias=-5)
    assert pipeline.sync(reconcile=True) == 0

    assert _held(pipeline, test_id) == before


def test_sessions_deleted_between_two_pages_of_a_walk_remove_no_live_session(make_pipeline):
    # Seen: 5 page-1 sessions deleted right after page 1 was served removed exactly the 5 live
    # sessions that moved up onto page 1, which were then fetched again.
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 120),), api={"page_size": 50}, **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    page_one = pipeline.sandbox.dataset.session_ids(test_id)[:5]
    pipeline.sandbox.delete_after_page(test_id, page=1, count=5)
    pipeline.sandbox.reset_requests()

    assert pipeline.sync(reconcile=True) == 0

    live = set(pipeline.sandbox.dataset.session_ids(test_id))
    assert live <= set(pipeline.table("sessions", test_id)["session_id"])
    assert _detail_ids(pipeline) == []  # no live session removed, so none fetched again
    # A later, undisturbed walk sees the deletion consistently and removes exactly those five.
    assert pipeline.sync(reconcile=True) == 0
    assert set(pipeline.table("sessions", test_id)["session_id"]) == live
    assert not set(page_one) & set(_landing(pipeline).latest_by_session(TestId(test_id), "session_details"))


def test_a_transient_404_on_details_is_asked_again_and_lands(make_pipeline):
    pipeline = make_pipeline(
        env={"UT_SESSION_RETRY_MINUTES": "0.0001"}, studies=(StudySpec(SURVEY, 4),), **ROOMY
    )
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    new = pipeline.sandbox.add_sessions(test_id, 2)
    pipeline.sandbox.transient_not_found(new[0], times=1)

    assert pipeline.sync() == 0
    failing = SyncState(_landing(pipeline), TestId(test_id)).failures(DETAILS)
    assert set(failing) == {new[0]} and failing[new[0]].not_found
    pipeline.sandbox.reset_requests()

    assert pipeline.sync() == 0  # its retry is due (a tiny wait here): asked again, and it lands

    assert _detail_ids(pipeline) == [new[0]]
    assert set(new) <= set(pipeline.table("sessions", test_id)["session_id"])
    assert SyncState(_landing(pipeline), TestId(test_id)).failures(DETAILS) == {}


def test_a_404_during_a_full_sync_keeps_what_was_landed(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 4),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync(videos=True) == 0
    before = _held(pipeline, test_id)
    victim = pipeline.sandbox.dataset.session_ids(test_id)[1]
    for endpoint in ("session_details", "transcript", "video_download_url"):
        pipeline.sandbox.transient_not_found(victim, times=1, endpoint=endpoint)

    assert pipeline.sync(full=True, videos=True) == 0

    assert _held(pipeline, test_id) == before


def test_a_test_revoked_between_listing_and_details_stops_the_run_without_marking_sessions(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 4),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync(videos=True) == 0
    new = pipeline.sandbox.add_sessions(test_id, 2)
    pipeline.sandbox.revoke_after(test_id, 1, endpoint="list_sessions")

    assert pipeline.sync(videos=True) != 0

    # Every session endpoint answered 404, as access denied does: none of it is taken as an answer.
    state = SyncState(_landing(pipeline), TestId(test_id))
    assert state.failures(DETAILS) == {} and state.failures(TRANSCRIPT) == {}
    landing = _landing(pipeline)
    assert not set(new) & set(landing.latest_by_session(TestId(test_id), "transcripts"))
    assert not [k for k in landing.store.list_keys(f"videos/{test_id}/") if k.endswith(".none")]
    pipeline.sandbox.restore_test(test_id)
    pipeline.sandbox.reset_requests()
    assert pipeline.sync(videos=True) == 0
    assert _detail_ids(pipeline) == sorted(new)
    assert set(new) <= set(pipeline.table("sessions", test_id)["session_id"])
    assert set(new) <= set(pipeline.table("transcripts", test_id)["session_id"])


def test_sessions_answering_404_do_not_hold_back_the_sessions_listed_after_them(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 2),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    new = pipeline.sandbox.add_sessions(test_id, 8)
    listed = pipeline.sandbox.dataset.session_ids(test_id)  # newest first, as asked
    stuck = [s for s in listed if s in new][:3]
    for session_id in stuck:
        pipeline.sandbox.transient_not_found(session_id, times=100)

    assert pipeline.sync() == 0

    assert set(new) - set(stuck) <= set(pipeline.table("sessions", test_id)["session_id"])
    assert set(SyncState(_landing(pipeline), TestId(test_id)).failures(DETAILS)) == set(stuck)


def test_a_transcript_that_keeps_failing_holds_back_no_other_transcript(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 6),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    broken = pipeline.sandbox.dataset.session_ids(test_id)[2]
    pipeline.sandbox.configure(failing_transcript_ids={broken})

    assert pipeline.sync() == 0

    transcripts = set(pipeline.table("transcripts", test_id)["session_id"])
    assert transcripts == set(pipeline.sandbox.dataset.session_ids(test_id)) - {broken}
    assert set(SyncState(_landing(pipeline), TestId(test_id)).failures(TRANSCRIPT)) == {broken}


def test_a_session_that_keeps_failing_is_quarantined_and_starts_no_more_runs(make_pipeline, sandbox_resource):
    fast = {"UT_SESSION_RETRY_MINUTES": "0.0001", "UT_SESSION_MAX_FAILURES": "2"}
    pipeline = make_pipeline(env=fast, studies=(StudySpec(SURVEY, 5),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    broken = pipeline.sandbox.dataset.session_ids(test_id)[0]
    pipeline.sandbox.configure(failing_session_ids={broken})

    assert pipeline.sync() == 0
    assert pipeline.sync() == 0  # the second failure in a row: quarantined
    check = _check(pipeline, "session_details", "no_session_quarantined")
    assert not check.passed and broken in check.metadata["quarantined"].value
    pipeline.sandbox.reset_requests()

    assert pipeline.sync() == 0
    assert _detail_ids(pipeline) == []  # not asked again on its own
    client = pipeline.defs.resources["usertesting"].get_client()
    need = sync_need(_landing(pipeline), client, TestId(test_id))
    assert need.reason is None  # and not a reason for the sensor to start a run

    pipeline.sandbox.configure(failing_session_ids=set())
    assert pipeline.sync(retry_failed=True) == 0
    assert broken in set(pipeline.table("sessions", test_id)["session_id"])
    assert _check(pipeline, "session_details", "no_session_quarantined").passed


def test_a_new_or_emptied_warehouse_is_filled_from_the_landing_area_without_requests(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 14),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    before = _held(pipeline, test_id)
    Path(pipeline.settings.duckdb_path).unlink()
    pipeline.sandbox.reset_requests()

    assert pipeline.sync() == 0

    assert _held(pipeline, test_id) == before
    assert _detail_ids(pipeline) == [] and pipeline.api_requests("/transcript") == []
    assert _check(pipeline, "session_details", "warehouse_matches_landing").passed


def test_rows_the_landing_area_does_not_hold_are_kept_and_the_check_says_so(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 5),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    lost = pipeline.sandbox.dataset.session_ids(test_id)[0]
    landing = _landing(pipeline)
    landing.delete_sessions(TestId(test_id), "session_details", [lost])  # a landing area partly lost
    pipeline.sandbox.configure(failing_session_ids={lost})  # and the API cannot give it back now

    assert pipeline.sync() == 0

    assert lost in set(pipeline.table("sessions", test_id)["session_id"])
    check = _check(pipeline, "session_details", "warehouse_matches_landing")
    assert not check.passed and check.metadata["sessions_not_landed"].value == 1


def test_a_large_removal_waits_for_a_later_walk_that_the_sensor_asks_for(make_pipeline):
    confirm = {"UT_DELETE_CONFIRM_HOURS": "0.0001"}
    pipeline = make_pipeline(env=confirm, studies=(StudySpec(SURVEY, 12),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    deleted = pipeline.sandbox.dataset.delete_sessions(test_id=test_id, count=8)  # more than 1 in 12

    assert pipeline.sync() == 0
    assert set(deleted) <= set(pipeline.table("sessions", test_id)["session_id"])  # kept: one walk said so
    client = pipeline.defs.resources["usertesting"].get_client()
    policy = pipeline.defs.resources["sync_settings"].deletion_policy()
    reason = sync_need(_landing(pipeline), client, TestId(test_id), deletions=policy).reason
    assert reason is not None and "confirm" in reason

    assert pipeline.sync() == 0  # a second consistent walk, later, agrees
    assert set(pipeline.table("sessions", test_id)["session_id"]) == set(
        pipeline.sandbox.dataset.session_ids(test_id)
    )
    assert not set(deleted) & set(_landing(pipeline).latest_by_session(TestId(test_id), "session_details"))
    assert _check(pipeline, "raw_sessions", "no_removal_awaiting_confirmation").passed


def test_plain_syncs_walk_the_whole_listing_every_reconcile_interval(make_pipeline):
    # As many deleted (on the last page) as arrived (on the first): the count is unchanged and a
    # plain sync reads only page 1, so only the periodic walk finds the deletion.
    pipeline = make_pipeline(
        env={"UT_RECONCILE_HOURS": "0.0001"},
        api={"page_size": 50},
        studies=(StudySpec(SURVEY, 120),),
        **ROOMY,
    )
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    oldest = pipeline.sandbox.dataset.session_ids(test_id)[-1]
    pipeline.sandbox.dataset.delete_sessions([oldest])
    pipeline.sandbox.add_sessions(test_id, 1)

    assert pipeline.sync() == 0

    assert set(pipeline.table("sessions", test_id)["session_id"]) == set(
        pipeline.sandbox.dataset.session_ids(test_id)
    )
    assert oldest not in set(pipeline.table("raw_sessions", test_id)["session_id"])


def test_a_write_that_fails_part_way_leaves_none_of_its_tables_written_and_the_next_sync_writes_them(
    make_pipeline,
):
    # The warehouse refuses the tasks table mid-write (here: someone replaced it with a view). The
    # five tables are written in one transaction, so the tables written before it do not hold the
    # new sessions either, and the next sync writes them all from the landing area.
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 3),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    new = pipeline.sandbox.add_sessions(test_id, 2)
    with duckdb.connect(str(pipeline.settings.duckdb_path)) as connection:
        connection.execute("ALTER TABLE usertesting.tasks RENAME TO tasks_kept")
        connection.execute("CREATE VIEW usertesting.tasks AS SELECT * FROM usertesting.tasks_kept")

    assert pipeline.sync() != 0
    for table in ("sessions", "demographics", "task_groups", "tasks", "session_details"):
        assert not set(new) & set(pipeline.table(table, test_id)["session_id"]), table
    assert set(new) <= set(pipeline.table("raw_sessions", test_id)["session_id"])  # another asset's

    with duckdb.connect(str(pipeline.settings.duckdb_path)) as connection:
        connection.execute("DROP VIEW usertesting.tasks")
        connection.execute("ALTER TABLE usertesting.tasks_kept RENAME TO tasks")
    pipeline.sandbox.reset_requests()
    assert pipeline.sync() == 0
    assert _detail_ids(pipeline) == []  # landed by the failed run: not asked again
    for table in ("sessions", "tasks", "session_details"):  # a session may have no demographics
        assert set(new) <= set(pipeline.table(table, test_id)["session_id"]), table


def test_a_qx_score_that_keeps_failing_is_kept_and_the_sync_succeeds(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(INTERACTION, 4),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    before = pipeline.table("qx_scores", test_id)
    assert len(before) > 0

    pipeline.sandbox.add_sessions(test_id, 1)  # the score is asked again when sessions change
    pipeline.sandbox.configure(failing_qx_test_ids={test_id})
    assert pipeline.sync() == 0
    assert pipeline.table("qx_scores", test_id).equals(before)
    assert len(pipeline.table("sessions", test_id)) == 5

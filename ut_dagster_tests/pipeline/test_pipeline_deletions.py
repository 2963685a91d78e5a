"""Months of unattended syncs: sessions deleted upstream, late arrivals deep in the listing, 404s."""

import subprocess
import sys

from dagster import materialize

from dagster_usertesting.defs.assets import raw_sessions, session_tables
from dagster_usertesting.defs.partitions import add_tests
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec

HOLD_LOCK = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); sys.stdin.read()"
)
ROOMY = {"requests_per_window": 5000, "window_seconds": 1.0}


def _landed_ids(pipeline, test_id: str, folder: str) -> set[str]:
    landing = Landing(LocalObjectStore(pipeline.settings.object_store))
    return set(landing.latest_by_session(test_id, folder))


def _detail_ids(pipeline) -> list[str]:
    return sorted(r["path"].rsplit("/", 1)[1] for r in pipeline.api_requests("/api/v3/sessionResults/"))


def test_deletions_and_late_arrivals_on_page_two_are_synced_by_one_plain_sync(
    make_pipeline, assert_synced_as_served
):
    # As seen in production: two 600-session tests (pages of 500), 10 sessions deleted and 2 new +
    # 2 late arrivals each. The late arrivals sit on page 2; a stop rule counting deleted sessions as
    # known misses them. The same at a tenth of the size: pages of 50, late arrivals behind 50, and
    # 5 deletions (within the share one consistent walk may remove: UT_DELETE_MAX_SHARE, 10%).
    page = 50
    pipeline = make_pipeline(
        studies=(StudySpec(SURVEY, 60), StudySpec(SURVEY, 60)), api={"page_size": page}, **ROOMY
    )
    assert pipeline.sync() == 0
    listing = [r["query"] for r in pipeline.sandbox.requests if r["path"] == "/api/v2/sessionResults"]
    # Pages of 50 (limit=1 answers are the probes asking whether a test still answers after a 404).
    pages = [(q["limit"], q["offset"]) for q in listing if q["limit"] != "1"]
    assert pages == [(str(page), "0"), (str(page), str(page))] * 2
    dataset = pipeline.sandbox.dataset
    churn = {  # dataset.churn(deleted=5, new=2, late=2), with late arrivals behind one page of 50
        test_id: {
            "deleted": dataset.delete_sessions(test_id=test_id, count=5),
            "new": dataset.add_sessions(test_id, 2),
            "late": dataset.add_late_sessions(test_id, 2, behind=page),
        }
        for test_id in pipeline.sandbox.test_ids
    }
    for test_id, change in churn.items():
        listed = dataset.session_ids(test_id)  # newest first, as served
        assert set(change["late"]) <= set(listed[page:]), "late arrivals must be on page 2"
    pipeline.sandbox.reset_requests()

    assert pipeline.sync() == 0

    assert_synced_as_served(pipeline, pipeline.sandbox.test_ids)
    arrived = sorted(s for c in churn.values() for s in c["new"] + c["late"])
    assert _detail_ids(pipeline) == arrived  # details of what is new only, nothing known is re-asked
    for test_id, change in churn.items():
        for folder in ("session_details", "transcripts"):
            assert not set(change["deleted"]) & _landed_ids(pipeline, test_id, folder), folder
        for table in ("tasks", "demographics", "task_groups"):
            assert not set(change["deleted"]) & set(pipeline.table(table, test_id)["session_id"]), table


def test_reconcile_finds_deletions_a_count_cannot_see_and_spends_only_list_pages(make_pipeline):
    # 2 of 8 may go on one walk's word here: this test is about finding deletions, not their cap.
    pipeline = make_pipeline(
        env={"UT_DELETE_MAX_SHARE": "0.25"}, studies=(StudySpec(THINK_OUT_LOUD, 8),), **ROOMY
    )
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    # As many deleted as arrived: the total is unchanged, so only walking the listing can tell.
    deleted = pipeline.sandbox.dataset.delete_sessions(test_id=test_id, count=2)
    new = pipeline.sandbox.add_sessions(test_id, 2)
    pipeline.sandbox.reset_requests()

    assert pipeline.sync(reconcile=True) == 0

    assert set(pipeline.table("sessions", test_id)["session_id"]) == set(
        pipeline.sandbox.dataset.session_ids(test_id)
    )
    assert not set(deleted) & set(pipeline.table("transcripts", test_id)["session_id"])
    assert not set(deleted) & _landed_ids(pipeline, test_id, "transcripts")
    assert _detail_ids(pipeline) == sorted(new)
    latest = pipeline.instance.get_latest_materialization_event(raw_sessions.default.key)
    assert latest.asset_materialization.metadata["sessions_removed"].value == 2


def test_a_session_deleted_between_listing_and_details_is_dropped_not_asked_forever(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 5),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    add_tests(pipeline.instance, [test_id])
    resources = {k: pipeline.defs.resources[k] for k in ("usertesting", "object_store", "io_manager")}
    resources["sync_settings"] = pipeline.defs.resources["sync_settings"]
    assert materialize(
        [raw_sessions.default], partition_key=test_id, instance=pipeline.instance, resources=resources
    )
    gone = pipeline.sandbox.dataset.delete_sessions(test_id=test_id, count=1)

    for _ in range(2):
        pipeline.sandbox.reset_requests()
        result = materialize(
            [session_tables.default], partition_key=test_id, instance=pipeline.instance, resources=resources
        )
        assert result.success
        details = _detail_ids(pipeline)
    assert details == []  # the second run does not ask for the deleted session again
    assert set(pipeline.table("sessions", test_id)["session_id"]) == set(
        pipeline.sandbox.dataset.session_ids(test_id)
    )
    assert not set(gone) & _landed_ids(pipeline, test_id, "session_details")


def test_a_locked_warehouse_fails_the_run_and_the_next_run_loads_without_asking_again(make_pipeline):
    # The write gives up on the lock after 1 s instead of the default 60 s: the outcome is the same.
    locked_wait = {"UT_DUCKDB_LOCK_TIMEOUT_SECONDS": "1"}
    pipeline = make_pipeline(env=locked_wait, studies=(StudySpec(SURVEY, 6),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    assert pipeline.sync() == 0
    new = pipeline.sandbox.add_sessions(test_id, 3)
    pipeline.sandbox.reset_requests()

    # Another process (a notebook, a BI tool) holds the DuckDB file open for writing.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(pipeline.settings.duckdb_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert pipeline.sync() != 0
    finally:
        holder.communicate("", timeout=30)
    assert pipeline.sync() == 0

    # Whatever the failed run fetched was landed: across both runs each new session is asked once.
    assert _detail_ids(pipeline) == sorted(new)
    assert set(new) <= set(pipeline.table("sessions", test_id)["session_id"])
    assert len(pipeline.table("sessions", test_id)) == 9


def test_forget_unregisters_a_test_and_with_delete_data_removes_its_rows_and_objects(make_pipeline):
    from dagster_usertesting.defs.forget import forget_test
    from dagster_usertesting.defs.partitions import test_partitions

    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 3), StudySpec(SURVEY, 2)), **ROOMY)
    kept, forgotten = pipeline.sandbox.test_ids
    assert pipeline.sync() == 0

    result = forget_test(pipeline.instance, forgotten, delete_data=True, settings=pipeline.settings)

    assert result.was_registered and result.rows_deleted > 0 and result.objects_deleted > 0
    assert pipeline.instance.get_dynamic_partitions(test_partitions.name) == [kept]
    for table in ("raw_sessions", "sessions", "tasks", "transcripts"):
        assert set(pipeline.table(table)["test_id"]) == {kept}, table
    assert _landed_ids(pipeline, forgotten, "session_details") == set()
    assert len(_landed_ids(pipeline, kept, "session_details")) == 3


def test_a_session_that_keeps_failing_is_recorded_the_rest_land_and_it_backs_off_until_retried(make_pipeline):
    pipeline = make_pipeline(studies=(StudySpec(SURVEY, 6),), **ROOMY)
    test_id = pipeline.sandbox.test_ids[0]
    failing = pipeline.sandbox.dataset.session_ids(test_id)[2]
    pipeline.sandbox.config.failing_session_ids = {failing}

    assert pipeline.sync() == 0

    assert set(pipeline.table("sessions", test_id)["session_id"]) == set(
        pipeline.sandbox.dataset.session_ids(test_id)
    ) - {failing}
    details = pipeline.instance.get_latest_materialization_event(
        session_tables.default.keys_by_output_name["session_details"]
    )
    assert details.asset_materialization.metadata["sessions_failed"].value == 1
    pipeline.sandbox.config.failing_session_ids = set()
    pipeline.sandbox.reset_requests()

    assert pipeline.sync() == 0  # backing off: not asked again at once, nothing else re-asked
    assert _detail_ids(pipeline) == []
    assert pipeline.sync(retry_failed=True) == 0

    assert _detail_ids(pipeline) == [failing]
    assert failing in set(pipeline.table("sessions", test_id)["session_id"])

"""`usertesting/tests` over the sandbox's legacy v1 API into a real DuckDB file, and titles from it."""

import json

import dagster as dg

from dagster_usertesting.defs.jobs import tests_refresh_job
from dagster_usertesting.defs.titles import TITLE_TAG, known_titles, title_of, title_tags
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.testing.data import build_workspaces

# More than a v1 page (50) in the big workspace, so the cursor is followed.
LEGACY_STUDIES = 60


def test_tests_table_holds_every_listed_test_once_as_served(make_pipeline):
    pipeline = make_pipeline(legacy_studies=LEGACY_STUDIES)
    sandbox = pipeline.sandbox
    store = ObjectStoreResource(url=pipeline.settings.object_store).store()
    assert known_titles(store) == {}  # nothing landed yet: no title, no tag

    result = pipeline.defs.resolve_job_def(tests_refresh_job.name).execute_in_process(
        instance=pipeline.instance
    )
    assert result.success

    # What the sandbox's v1 API serves, built from the same seed: each test once, first workspace wins.
    expected = {}
    for workspace in build_workspaces(sandbox.dataset, LEGACY_STUDIES):
        for s in workspace.studies:
            expected.setdefault(
                s.uuid,
                (
                    s.title,
                    s.product_type.upper(),
                    s.type.upper(),
                    workspace.uuid,
                    workspace.name,
                    s.ordered_at.replace(microsecond=0, tzinfo=None),
                    s.type == "STUDYV2",
                ),
            )
    rows = pipeline.query(
        "select test_id, title, product_type, study_type, workspace_id, workspace_name, ordered_at, "
        "syncable, extracted_at from usertesting.tests"
    )
    assert len(rows) == len(expected) == len(set(rows["test_id"])) > 50
    got = {r[0]: tuple(r[1:8]) for r in rows.itertuples(index=False)}
    assert {k: (*v[:5], v[5].to_pydatetime(), bool(v[6])) for k, v in got.items()} == expected
    assert {t for t, row in got.items() if row[6]} == set(sandbox.test_ids)  # classic ones: not syncable
    assert rows["extracted_at"].notna().all()

    # A handful of requests, all legacy v1; the raw responses are landed before normalizing.
    assert all(r["path"].startswith("/usertesting/api/v1/workspaces") for r in sandbox.requests)
    assert len(sandbox.requests) <= 6
    [key] = store.list_keys("raw/_workspaces/")
    landed = json.loads(store.get_bytes(key))["studies"]
    assert sorted(s["uuid"] for s in landed) == sorted(expected)
    [materialization] = result.asset_materializations_for_node("usertesting__tests")
    assert materialization.metadata["dagster/row_count"].value == len(expected)

    # Titles for run tags, from the landing area (no API request, no warehouse query).
    test_id = sandbox.test_ids[0]
    assert title_of(store, test_id) == expected[test_id][0]
    assert title_of(store, test_id.upper()) == expected[test_id][0]
    assert title_tags(known_titles(store), test_id) == {TITLE_TAG: expected[test_id][0]}


def test_the_sync_job_does_not_include_the_tests_table(make_pipeline):
    pipeline = make_pipeline()
    sync_keys = pipeline.defs.resolve_job_def("usertesting_sync").asset_layer.selected_asset_keys
    assert dg.AssetKey(["usertesting", "tests"]) not in sync_keys
    assert dg.AssetKey(["usertesting", "raw_sessions"]) in sync_keys


def test_a_test_whose_kind_has_no_narration_costs_no_transcript_request(make_pipeline):
    from dagster_usertesting.testing import INTERACTION, THINK_OUT_LOUD, StudySpec

    pipeline = make_pipeline(studies=(StudySpec(INTERACTION, 12), StudySpec(THINK_OUT_LOUD, 3)))
    interaction, think_aloud = pipeline.sandbox.test_ids
    assert (
        pipeline.defs.resolve_job_def(tests_refresh_job.name)
        .execute_in_process(instance=pipeline.instance)
        .success
    )

    assert pipeline.sync() == 0

    asked = {r["path"].split("/")[4] for r in pipeline.api_requests("/transcript")}
    assert asked == set(pipeline.sandbox.dataset.session_ids(think_aloud))
    assert not asked & set(pipeline.sandbox.dataset.session_ids(interaction))

"""Test titles from the landed test list: what run tags show, before and after a refresh."""

from datetime import UTC, datetime

import dagster as dg

from dagster_usertesting.defs.partitions import add_tests
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.schedules import build_sync_schedule
from dagster_usertesting.defs.titles import MAX_TAG_LENGTH, TITLE_TAG, known_titles, title_of, title_tags
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.workspace_tests import PREFIX, land_workspace_tests, latest_workspace_tests

TEST_A = "ef333003-697b-4add-b19a-8e8e37f8d8b8"
TEST_B = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
DAY_1, DAY_2 = datetime(2025, 1, 1, 1, 30, tzinfo=UTC), datetime(2025, 1, 2, 1, 30, tzinfo=UTC)


def test_titles_come_from_the_newest_landed_list(tmp_path):
    store = LocalObjectStore(tmp_path)
    assert known_titles(store) == {} and title_tags(known_titles(store), TEST_A) == {}  # before any refresh

    land_workspace_tests(
        store, [{"uuid": TEST_A, "title": "Checkout"}, {"uuid": TEST_B, "title": "Old"}], DAY_1
    )
    land_workspace_tests(
        store, [{"uuid": TEST_A.upper(), "title": " Checkout v2 "}, {"uuid": TEST_B}, None], DAY_2
    )

    assert latest_workspace_tests(store)[0] == DAY_2
    assert known_titles(store) == {TEST_A: "Checkout v2"}  # B has no title in the newest list
    assert title_of(store, TEST_A.upper()) == "Checkout v2"
    assert title_of(store, TEST_B) is None
    assert title_tags(known_titles(store), TEST_A) == {TITLE_TAG: "Checkout v2"}


def test_a_damaged_newest_list_falls_back_to_the_previous_one(tmp_path):
    store = LocalObjectStore(tmp_path)
    land_workspace_tests(store, [{"uuid": TEST_A, "title": "Checkout"}], DAY_1)
    store.put_bytes(f"{PREFIX}20250102T013000000000Z.json", b"{not json")
    store.put_bytes(f"{PREFIX}notes.json", b"{}")  # a stray file is not a list
    assert title_of(store, TEST_A) == "Checkout"


def test_a_very_long_title_is_cut_for_the_tag():
    tags = title_tags({TEST_A: "x" * 500}, TEST_A)
    assert len(tags[TITLE_TAG]) == MAX_TAG_LENGTH and tags[TITLE_TAG].endswith("…")


def test_the_scheduled_sync_tags_each_run_with_its_title(tmp_path):
    land_workspace_tests(LocalObjectStore(tmp_path), [{"uuid": TEST_A, "title": "Checkout"}], DAY_1)
    with dg.instance_for_test() as instance:
        add_tests(instance, [TEST_A, TEST_B])
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=DAY_2,
            resources={
                "object_store": ObjectStoreResource(url=str(tmp_path)),
                "sync_settings": SyncPolicyResource(),
            },
        ) as context:
            tags = {r.partition_key: r.tags for r in build_sync_schedule()(context)}
    assert tags[TEST_A][TITLE_TAG] == "Checkout"
    assert TITLE_TAG not in tags[TEST_B]  # not in the list: no tag rather than a wrong one

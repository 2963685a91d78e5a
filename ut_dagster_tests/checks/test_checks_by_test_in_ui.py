"""Each test's checks, freshness and title as the UI reads them: the webserver's GraphQL API.

Real syncs of two sandbox tests into a real instance (test A with a session that cannot be parsed,
then test B, which is fine), the hourly freshness job and a test-list refresh; then a real
`dagster-webserver` over that instance answers what the asset and check pages show.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from dagster_usertesting.defs.jobs import freshness_job, tests_refresh_job
from dagster_usertesting.defs.titles import known_titles
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.testing import SURVEY, StudySpec
from ut_dagster.cli.instance import dagster_instance
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings

PER_TEST_CHECKS = {
    ("raw_sessions", "count_matches_api_total"),
    ("raw_sessions", "no_removal_awaiting_confirmation"),
    ("raw_sessions", "warehouse_matches_landing"),
    ("raw_sessions", "fresh_in_warehouse"),
    ("session_details", "all_sessions_parsed"),
    ("session_details", "no_session_quarantined"),
    ("session_details", "warehouse_matches_landing"),
    ("sessions", "one_row_per_session"),
    ("tasks", "every_task_has_its_session"),
}
PER_TEST_ASSETS = ("raw_sessions", "session_details", "sessions", "demographics", "tasks", "qx_scores")


@dataclass
class Synced:
    data_dir: Path
    a: str  # its newest session cannot be parsed
    b: str
    titles: dict[str, str]
    sessions: dict[str, int]  # what the warehouse's sessions table holds of each
    product_types: dict[str, str]  # as usertesting.tests holds them


@pytest.fixture
def synced(tmp_path, start_sandbox, sandbox_resource) -> Synced:
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 3), StudySpec(SURVEY, 4)))
    a, b = sandbox.test_ids
    [broken] = sandbox.add_sessions(a, 1)  # the newest of A's sessions
    sandbox.config.malformed_session_ids = {broken}
    # Lag 0: a listed session not in the warehouse makes its test late at once.
    settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data"), "UT_FRESHNESS_LAG_MINUTES": "0"})
    resource = sandbox_resource(sandbox, rate_limit_store=settings.rate_limit_store)
    defs = build_definitions(settings, {"usertesting": resource})
    instance = dagster_instance(settings)
    try:
        refresh = defs.resolve_job_def(tests_refresh_job.name)
        assert refresh.execute_in_process(instance=instance).success  # titles for the syncs
        assert run_sync([a], defs=defs, instance=instance, settings=settings) == 0
        assert run_sync([b], defs=defs, instance=instance, settings=settings) == 0
        assert defs.resolve_job_def(freshness_job.name).execute_in_process(instance=instance).success
        assert refresh.execute_in_process(instance=instance).success  # the table of registered tests
    finally:
        instance.dispose()
    titles = known_titles(ObjectStoreResource(url=settings.object_store))
    assert titles[a] and titles[b] and titles[a] != titles[b]
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        kinds = dict(warehouse.sql("select test_id, product_type from usertesting.tests").fetchall())
    return Synced(tmp_path / "data", a, b, titles, {a: 3, b: 4}, kinds)


CHECK_EXECUTION = """
query ($path: [String!]!, $check: String!, $partition: String) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $check, partition: $partition, limit: 5) {
    partition
    evaluation { success description
      metadataEntries { label ... on TextMetadataEntry { text } } }
  }
}"""

CHECK_PARTITIONS = """
query ($path: [String!]!) {
  assetNodes(assetKeys: [{path: $path}]) {
    assetChecksOrError { ... on AssetChecks { checks { name
      partitionStatuses { ... on AssetCheckDefaultPartitionStatuses { succeededPartitions failedPartitions } }
    } } }
  }
}"""

MATERIALIZATIONS = """
query ($path: [String!]!, $partitions: [String!]) {
  assetOrError(assetKey: {path: $path}) { ... on Asset {
    assetMaterializations(partitions: $partitions, limit: 1) {
      partition
      metadataEntries { label ... on TextMetadataEntry { text }
        ... on TableMetadataEntry { table { records schema { columns { name } } } } }
    }
  } }
}"""


def _text(entries: list[dict], label: str) -> str | None:
    return next((e.get("text") for e in entries if e["label"] == label), None)


@pytest.mark.timeout(900)
def test_each_test_has_its_own_check_status_freshness_and_title_in_the_ui(synced, start_webserver):
    web = start_webserver(synced.data_dir)
    a, b, titles = synced.a, synced.b, synced.titles

    # Test B synced after A: A's failed parse is still A's, B's pass is B's, each with its title.
    for test_id, parsed in ((a, False), (b, True)):
        [execution] = web.query(
            CHECK_EXECUTION,
            path=["usertesting", "session_details"],
            check="all_sessions_parsed",
            partition=test_id,
        )["assetCheckExecutions"]
        evaluation = execution["evaluation"]
        assert execution["partition"] == test_id
        assert evaluation["success"] is parsed
        assert _text(evaluation["metadataEntries"], "test_title") == titles[test_id]
        assert titles[test_id] in evaluation["description"]

    # Every check about one test is partitioned by test: each partition has its own status.
    statuses = {}
    for asset in {asset for asset, _ in PER_TEST_CHECKS}:
        data = web.query(CHECK_PARTITIONS, path=["usertesting", asset])
        for check in data["assetNodes"][0]["assetChecksOrError"]["checks"]:
            statuses[(asset, check["name"])] = check["partitionStatuses"]
    for key in PER_TEST_CHECKS:
        assert statuses[key] is not None, key
        assert sorted(statuses[key]["succeededPartitions"] + statuses[key]["failedPartitions"]) == sorted(
            [a, b]
        ), key
    assert statuses[("session_details", "all_sessions_parsed")]["failedPartitions"] == [a]
    # Freshness at a glance: A's newest listed session is not in the warehouse (lag 0), B is fresh.
    assert statuses[("raw_sessions", "fresh_in_warehouse")] == {
        "succeededPartitions": [b],
        "failedPartitions": [a],
    }
    [late] = web.query(
        CHECK_EXECUTION, path=["usertesting", "raw_sessions"], check="fresh_in_warehouse", partition=a
    )["assetCheckExecutions"][:1]
    assert titles[a] in late["evaluation"]["description"]
    assert "not in the warehouse" in late["evaluation"]["description"]
    assert _text(late["evaluation"]["metadataEntries"], "test_title") == titles[a]

    # Every partition's materializations name the test.
    for asset in PER_TEST_ASSETS:
        for test_id in (a, b):
            [materialization] = web.query(
                MATERIALIZATIONS, path=["usertesting", asset], partitions=[test_id]
            )["assetOrError"]["assetMaterializations"]
            assert _text(materialization["metadataEntries"], "test_title") == titles[test_id], asset

    # usertesting/tests shows the registered tests by title, with their sessions and status.
    [latest] = web.query(MATERIALIZATIONS, path=["usertesting", "tests"], partitions=None)["assetOrError"][
        "assetMaterializations"
    ]
    [table] = [e["table"] for e in latest["metadataEntries"] if e["label"] == "registered_tests"]
    columns = [c["name"] for c in table["schema"]["columns"]]
    assert columns == ["title", "test_id", "product_type", "sessions", "last_sync", "lag", "status"]
    records = {r["test_id"]: r for r in map(json.loads, table["records"])}
    assert set(records) == {a, b}
    for test_id in (a, b):
        assert records[test_id]["title"] == titles[test_id]
        assert records[test_id]["sessions"] == synced.sessions[test_id]
        assert records[test_id]["product_type"] == synced.product_types[test_id]
        assert records[test_id]["last_sync"] != "never"
    assert records[a]["status"].startswith("late")
    assert records[b]["status"] == "fresh"

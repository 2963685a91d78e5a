"""Runs started by `ut-dagster sync` and `ut-dagster demo` show in their job's views in the UI.

Each query is the one the UI sends (dagster-ui's ui-core sources, as shipped in dagster-webserver
1.13's web app and its source maps):
- a job's Runs tab (pipelines/PipelineRunsFeedRoot.tsx, runs/useRunsFeedEntries.tsx): the runs feed
  filtered by the job's name and the hidden `.dagster/repository` tag `<repository>@<location>`;
- the job's partition views, run and step durations per partition (partitions/usePartitionStepQuery.tsx):
  runs filtered by job name, that tag and the partition tag;
- the Overview timeline (runs/useRunsForTimeline.tsx): every run updated in a window, of which it
  draws only those with a `repositoryOrigin`, in the row of that code location's job.
"""

import time
from datetime import UTC, datetime
from io import StringIO

import pytest
from dagster import DagsterRunStatus, RunsFilter

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME
from dagster_usertesting.defs.titles import TITLE_TAG
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.workspace_tests import land_workspace_tests
from dagster_usertesting.testing import SURVEY, StudySpec
from ut_dagster.cli.instance import dagster_instance
from ut_dagster.cli.marts_demo import build_and_print_marts
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.defs.research_marts.component import RESEARCH_MARTS_JOB_NAME
from ut_dagster.environment import Settings

# As workspace.yaml and [tool.dg] name the code location; a Definitions object's repository.
LOCATION, REPOSITORY = "ut_dagster", "__repository__"
TITLE = "Checkout flow v2"
UNKNOWN_TEST = "0badc0de-0000-4000-8000-000000000000"  # its listing is a 404: a failed run
REPOSITORY_LABEL = {"key": ".dagster/repository", "value": f"{REPOSITORY}@{LOCATION}"}

RUNS_TAB = """
query RunsFeedRootQuery($limit: Int!, $filter: RunsFilter, $view: RunsFeedView!) {
  runsFeedOrError(limit: $limit, filter: $filter, view: $view) {
    __typename
    ... on RunsFeedConnection { results { id runStatus tags { key value } } }
  }
}"""
PARTITION_RUNS = """
query PartitionStepLoaderQuery($filter: RunsFilter!, $limit: Int) {
  pipelineRunsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { id status startTime endTime tags { key value } } }
  }
}"""
TIMELINE = """
query CompletedRunTimelineQuery($completedFilter: RunsFilter!, $limit: Int!) {
  completed: runsOrError(filter: $completedFilter, limit: $limit) {
    __typename
    ... on Runs { results { id pipelineName startTime endTime
                            repositoryOrigin { repositoryName repositoryLocationName } } }
  }
}"""


def runs_tab(query, job: str) -> dict[str, dict]:
    data = query(
        RUNS_TAB,
        limit=30,
        filter={"pipelineName": job, "tags": [REPOSITORY_LABEL]},
        view="RUNS",
    )
    assert data["runsFeedOrError"]["__typename"] == "RunsFeedConnection", data
    return {run["id"]: run for run in data["runsFeedOrError"]["results"]}


def partition_runs(query, job: str, partition: str) -> dict[str, dict]:
    partition_tag = {"key": "dagster/partition", "value": partition}
    data = query(
        PARTITION_RUNS, limit=1000, filter={"pipelineName": job, "tags": [REPOSITORY_LABEL, partition_tag]}
    )
    assert data["pipelineRunsOrError"]["__typename"] == "Runs", data
    return {run["id"]: run for run in data["pipelineRunsOrError"]["results"]}


def timeline(query, since: float) -> dict[str, dict]:
    """The runs the timeline draws: ended since `since`, with a code location to put them under."""
    done = ["SUCCESS", "FAILURE", "CANCELED"]
    data = query(
        TIMELINE,
        limit=500,
        completedFilter={"statuses": done, "updatedAfter": since, "updatedBefore": time.time() + 60},
    )
    assert data["completed"]["__typename"] == "Runs", data
    return {run["id"]: run for run in data["completed"]["results"] if run["repositoryOrigin"]}


def tags_of(run: dict) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}


@pytest.mark.timeout(900)
def test_cli_sync_and_demo_runs_show_in_their_jobs_runs_tab_partitions_and_the_timeline(
    tmp_path, monkeypatch, start_sandbox, sandbox_resource, ui_graphql, capsys
):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 2),))
    test_id = sandbox.test_ids[0]
    settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data")})
    land_workspace_tests(
        ObjectStoreResource(url=settings.object_store).store(),
        [{"uuid": test_id, "title": TITLE}],
        datetime.now(UTC),
    )
    defs = build_definitions(
        settings, {"usertesting": sandbox_resource(sandbox, rate_limit_store=settings.rate_limit_store)}
    )
    # `ut-dagster sync` points DAGSTER_HOME at its instance: restored after this test.
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
    since = time.time() - 1
    instance = dagster_instance(settings)
    try:
        code = run_sync(
            [test_id, UNKNOWN_TEST],
            defs=defs,
            instance=instance,
            settings=settings,
            out=StringIO(),
            err=StringIO(),
        )
        assert code == 1  # the unknown test failed, the other synced
        assert build_and_print_marts(settings, instance) == 0
        capsys.readouterr()
        sync_runs = {r.status: r.run_id for r in instance.get_runs(RunsFilter(job_name=SYNC_JOB_NAME))}
        assert set(sync_runs) == {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}
        synced, failed = sync_runs[DagsterRunStatus.SUCCESS], sync_runs[DagsterRunStatus.FAILURE]
        [marts] = [r.run_id for r in instance.get_runs(RunsFilter(job_name=RESEARCH_MARTS_JOB_NAME))]

        with ui_graphql(instance) as query:
            # The sync job's Runs tab: both sync runs, the title on the one whose test has one.
            tab = runs_tab(query, SYNC_JOB_NAME)
            assert set(tab) == {synced, failed}
            assert tab[synced]["runStatus"] == "SUCCESS" and tab[failed]["runStatus"] == "FAILURE"
            assert tags_of(tab[synced])[TITLE_TAG] == TITLE

            # Its partition views (run and step durations by test): the test's run, with times.
            [partition_run] = partition_runs(query, SYNC_JOB_NAME, test_id).values()
            assert partition_run["id"] == synced
            assert partition_run["startTime"] and partition_run["endTime"]
            assert tags_of(partition_run)[TITLE_TAG] == TITLE
            assert set(partition_runs(query, SYNC_JOB_NAME, UNKNOWN_TEST)) == {failed}

            # The research marts job's Runs tab: the demo's build.
            assert set(runs_tab(query, RESEARCH_MARTS_JOB_NAME)) == {marts}

            # The timeline: all three, each in its job's row of this code location.
            drawn = timeline(query, since)
            assert {synced, failed, marts} <= set(drawn)
            for run_id, job in (
                (synced, SYNC_JOB_NAME),
                (failed, SYNC_JOB_NAME),
                (marts, RESEARCH_MARTS_JOB_NAME),
            ):
                assert drawn[run_id]["pipelineName"] == job
                assert drawn[run_id]["repositoryOrigin"] == {
                    "repositoryName": REPOSITORY,
                    "repositoryLocationName": LOCATION,
                }
    finally:
        instance.dispose()

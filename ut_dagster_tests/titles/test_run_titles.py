"""The test's title on its runs, as the UI's runs list shows them: read through the webserver's GraphQL.

A run launched by `ut-dagster sync` carries the title; so does a run launched from the sync job's
page in the UI, whose tags the UI asks the code location for (`partition.tagsOrError`). The runs
list shows a run's user tags in stored order, which is by key: the title's key must come first.
"""

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME
from dagster_usertesting.defs.titles import TITLE_TAG
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.workspace_tests import land_workspace_tests
from dagster_usertesting.testing import SURVEY, StudySpec
from ut_dagster.cli.instance import dagster_instance
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings
from ut_dagster_tests.webserver import Webserver, free_port, serving

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TITLE = "Checkout flow v2"


@pytest.fixture
def webserver(tmp_path) -> Iterator[Webserver]:
    """`dagster-webserver` on the checkout's workspace, the instance and data under tmp_path."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("UT_", "USERTESTING_"))},
        "UT_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "data" / "dagster_home"),
    }
    port = free_port()
    command = [BIN / "dagster-webserver", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    with serving(command, port, REPO, env, tmp_path / "webserver.log") as web:
        yield web


@pytest.fixture
def synced(tmp_path, start_sandbox, sandbox_resource) -> str:
    """A test synced by `ut-dagster sync` into the instance under tmp_path, its title landed."""
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 2),))
    test_id = sandbox.test_ids[0]
    settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data")})
    store = ObjectStoreResource(url=settings.object_store).store()
    land_workspace_tests(store, [{"uuid": test_id, "title": TITLE}], datetime.now(UTC))
    resource = sandbox_resource(sandbox, rate_limit_store=settings.rate_limit_store)
    defs = build_definitions(settings, {"usertesting": resource})
    instance = dagster_instance(settings)
    try:
        assert run_sync([test_id], defs=defs, instance=instance, settings=settings) == 0
    finally:
        instance.dispose()
    return test_id


RUNS = "{ runsOrError { ... on Runs { results { runId jobName tags { key value } } } } }"
PARTITION_TAGS = """
query ($location: String!, $job: String!, $partition: String!) {
  pipelineOrError(params: {repositoryLocationName: $location, repositoryName: "__repository__",
                           pipelineName: $job}) {
    __typename
    ... on Pipeline { partition(partitionName: $partition) {
      tagsOrError { ... on PartitionTags { results { key value } } } } }
  }
}"""


def _user_tags(tags: list[dict]) -> list[tuple[str, str]]:
    # dagster/ tags are system tags: the runs list shows them only when a user pins one.
    return [(t["key"], t["value"]) for t in tags if not t["key"].startswith("dagster/")]


@pytest.mark.timeout(900)
def test_the_title_is_the_first_tag_of_every_sync_run_of_a_test(synced, webserver):
    runs = webserver.query(RUNS)["runsOrError"]["results"]
    cli_runs = [r for r in runs if r["jobName"] == SYNC_JOB_NAME]
    assert len(cli_runs) == 1
    # The CLI run: the title first, before the host and pid of the process that ran it.
    tags = _user_tags(cli_runs[0]["tags"])
    assert tags[0] == (TITLE_TAG, TITLE), tags
    assert {"usertesting/cli_host", "usertesting/cli_pid"} <= {key for key, _ in tags}

    # A run launched from a sync job's page in the UI gets the tags the code location gives the
    # partition: the title among them.
    for job in (SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME):
        data = webserver.query(PARTITION_TAGS, location="ut_dagster", job=job, partition=synced)
        partition_tags = data["pipelineOrError"]["partition"]["tagsOrError"]["results"]
        assert (TITLE_TAG, TITLE) in [(t["key"], t["value"]) for t in partition_tags], job

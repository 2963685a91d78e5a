"""Jobs: the per-test sync (everything but videos), the same with videos archived, checks, test list.

The sync jobs run every step in the run's own process (in-process executor). A process per step
cost 40-55 s of start-up for a run whose steps take under a second each, and API steps gain nothing
from running side by side: the shared rate limit serialises their requests anyway. Crash safety does
not come from process isolation but from the landing area: every response is stored before the next
request, so a rerun after a crash asks only for what is missing.

Every run of a sync job carries the test's title as its first tag (titles.py), whoever launched it:
the jobs' partitioned config gives the partition's tags to RunRequests (sensor, schedule),
`execute_in_process` (the CLI) and the UI's launches of one partition from the job's page or
launchpad (the UI asks the code location for the partition's tags). The asset graph's Materialize button runs
Dagster's implicit asset job instead, whose tags come from the partitions definition alone.

The two sync jobs are built from the settings (`build_sync_jobs`): their runtime limit and where
their runs' title tags are read are the deployment's, not this process's environment's.

A sync run ends within UT_RUN_MAX_HOURS: Dagster's run monitoring fails a run past its
`dagster/max_runtime`, so a hung request or lock cannot hold the API pool (and every test queued
behind it) forever. A run whose process died is run_recovery.py's concern, not this limit's.
"""

from __future__ import annotations

import logging
from typing import Any

from dagster import (
    AssetSelection,
    define_asset_job,
    in_process_executor,
    partitioned_config,
)

from dagster_usertesting.defs.assets import SYNC_STEPS, TESTS_STEPS, VIDEO_STEPS, keys_of
from dagster_usertesting.defs.checks import (
    archived_videos_match_checksums,
    every_test_synced_recently,
    no_test_keeps_failing,
)
from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.titles import known_titles, title_tags
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.settings import SyncSettings

log = logging.getLogger(__name__)

SYNC_JOB_NAME = "usertesting_sync"
SYNC_WITH_VIDEOS_JOB_NAME = "usertesting_sync_with_videos"
MAX_RUNTIME_TAG = "dagster/max_runtime"  # seconds; enforced by run monitoring (docs/deployment.md)


# Any: the type define_asset_job returns is not exported by dagster.
def build_sync_jobs(settings: SyncSettings) -> tuple[Any, Any]:
    """(usertesting_sync, usertesting_sync_with_videos) for these settings."""
    tags = {MAX_RUNTIME_TAG: str(round(settings.run_max_hours * 3600))}
    store = ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url)

    def title_tags_of_partition(test_id: str) -> dict[str, str]:
        """The title tag of a test's runs, from the landed test list in the object store; {} when none
        is known. Called wherever a run of the partition is created."""
        try:
            return title_tags(known_titles(store), test_id)
        except Exception as exc:  # a label: an unreadable store must not stop a run from starting
            log.warning("No title tag for test %s: the test list could not be read (%s).", test_id, exc)
            return {}

    # No run config of its own (the assets' config defaults apply, and a launch's own config wins):
    # only the partition's tags.
    @partitioned_config(test_partitions, tags_for_partition_key_fn=title_tags_of_partition)
    def sync_partition_config(test_id: str) -> dict:
        return {}

    sync = define_asset_job(
        SYNC_JOB_NAME,
        selection=AssetSelection.assets(*keys_of(SYNC_STEPS)),
        executor_def=in_process_executor,
        config=sync_partition_config,
        tags=tags,
        description="Sync one UserTesting test: listing, session details, analysis tables, transcripts, "
        "QXscores.",
    )
    with_videos = define_asset_job(
        SYNC_WITH_VIDEOS_JOB_NAME,
        # Checksum verification re-reads every archived video: it runs on its own job, not every sync.
        selection=AssetSelection.assets(*keys_of(SYNC_STEPS + VIDEO_STEPS))
        - AssetSelection.checks(archived_videos_match_checksums),
        executor_def=in_process_executor,
        config=sync_partition_config,
        tags=tags,
        description="The sync plus archiving of every session video into the object store.",
    )
    return sync, with_videos


verify_videos_job = define_asset_job(
    "usertesting_verify_videos",
    selection=AssetSelection.checks(archived_videos_match_checksums),
    description="Re-read archived videos and compare them with their recorded SHA-256.",
)

# Costs no API budget: it reads the Dagster instance only.
freshness_job = define_asset_job(
    "usertesting_freshness",
    selection=AssetSelection.checks(every_test_synced_recently, no_test_keeps_failing),
    description="Checks that every registered test was synced recently and none keeps failing "
    "(every_test_synced_recently, no_test_keeps_failing). Reads the Dagster instance only, no API "
    "request; the usertesting_freshness_hourly schedule runs it.",
)

# Its own job: the test list is not partitioned by test, so `ut-dagster sync` never waits for it.
tests_refresh_job = define_asset_job(
    "usertesting_tests_refresh",
    selection=AssetSelection.assets(*keys_of(TESTS_STEPS)),
    description="Refresh usertesting/tests: every test the credential sees, with title and kind "
    "(a handful of legacy v1 requests).",
)


def sync_run_config(
    *,
    full: bool = False,
    reconcile: bool = False,
    rebuild: bool = False,
    videos: bool = False,
    retry_failed: bool = False,
) -> dict:
    """Run config of a sync: `full` refetches everything, `reconcile` walks the whole listing to
    remove sessions deleted upstream, `rebuild` rewrites the rows from the landing area,
    `retry_failed` asks again now for failing and quarantined sessions."""
    chosen = (("full", full), ("reconcile", reconcile), ("rebuild", rebuild), ("retry_failed", retry_failed))
    flags = {name: True for name, on in chosen if on}
    if not flags:
        return {}
    steps = SYNC_STEPS + (VIDEO_STEPS if videos else ())
    return {"ops": {step.op_name: {"config": flags} for step in steps}}

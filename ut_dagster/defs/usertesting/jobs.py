"""Jobs: the per-test sync (everything but videos) and the same with videos archived.

The sync jobs run every step in the run's own process (in-process executor). A process per step
cost 40-55 s of start-up for a run whose steps take under a second each, and API steps gain nothing
from running side by side: the shared rate limit serialises their requests anyway. Crash safety does
not come from process isolation but from the landing area: every response is stored before the next
request, so a rerun after a crash asks only for what is missing.
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from ut_dagster.defs.usertesting.assets import SYNC_ASSETS, VIDEO_ASSETS, VIDEO_CHECKS

SYNC_JOB_NAME = "usertesting_sync"
SYNC_WITH_VIDEOS_JOB_NAME = "usertesting_sync_with_videos"
# Ops whose run config (`full`, ...) controls what is requested from the API.
API_OPS = (
    "usertesting__raw_sessions",
    "session_tables",
    "transcript_tables",
    "usertesting__qx_scores",
)

usertesting_sync_job = define_asset_job(
    SYNC_JOB_NAME,
    selection=AssetSelection.assets(*SYNC_ASSETS),
    executor_def=in_process_executor,
    description="Sync one UserTesting test: listing, session details, analysis tables, transcripts, QXscores.",
)

usertesting_sync_with_videos_job = define_asset_job(
    SYNC_WITH_VIDEOS_JOB_NAME,
    # Checksum verification re-reads every archived video: it runs on its own job, not every sync.
    selection=AssetSelection.assets(*SYNC_ASSETS, *VIDEO_ASSETS) - AssetSelection.checks(*VIDEO_CHECKS),
    executor_def=in_process_executor,
    description="The sync plus archiving of every session video into the object store.",
)

verify_videos_job = define_asset_job(
    "usertesting_verify_videos",
    selection=AssetSelection.checks(*VIDEO_CHECKS),
    description="Re-read archived videos and compare them with their recorded SHA-256.",
)

VIDEO_OPS = ("usertesting__session_videos",)


def full_sync_run_config(videos: bool = False) -> dict:
    ops = API_OPS + (VIDEO_OPS if videos else ())
    return {"ops": {op: {"config": {"full": True}} for op in ops}}

"""Jobs: the per-test sync (everything but videos) and the same with videos archived."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from ut_dagster.defs.usertesting.assets import SYNC_ASSETS, VIDEO_ASSETS, VIDEO_CHECKS
from ut_dagster.defs.usertesting.partitions import test_partitions

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
    partitions_def=test_partitions,
    description="Sync one UserTesting test: listing, session details, analysis tables, transcripts, QXscores.",
)

usertesting_sync_with_videos_job = define_asset_job(
    SYNC_WITH_VIDEOS_JOB_NAME,
    # Checksum verification re-reads every archived video: it runs on its own job, not every sync.
    selection=AssetSelection.assets(*SYNC_ASSETS, *VIDEO_ASSETS) - AssetSelection.checks(*VIDEO_CHECKS),
    partitions_def=test_partitions,
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

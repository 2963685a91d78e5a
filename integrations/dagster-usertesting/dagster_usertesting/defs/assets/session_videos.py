"""`usertesting/session_videos`: session recordings archived in your object store, verified.

The work is lib/sync/videos_step.py's; this module says what Dagster shows.
"""

from dagster import AssetExecutionContext, AssetKey, Output, asset
from pydantic import Field

from dagster_usertesting.defs.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    failures_metadata,
    start_api_step,
    table_asset_kwargs,
)
from dagster_usertesting.defs.assets.factory import sync_step
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.titles import title_metadata
from dagster_usertesting.lib.normalize import to_frame
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import SESSION_VIDEOS
from dagster_usertesting.lib.sync.retries import quarantined_of
from dagster_usertesting.lib.sync.videos_step import VideoOptions, sync_videos
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.warehouse import TableWrite


class VideoConfig(SyncConfig):
    max_attempts: int = Field(default=4, description="Download attempts per video (fresh link after a 403).")
    no_video_probe: int = Field(
        default=10,
        description="After this many sessions of a test without a video, and none with one, stop asking "
        "for the test's videos (surveys have none). 0 = always ask.",
    )


@sync_step(
    asset,
    **PER_TEST_API_ASSET,
    **table_asset_kwargs(
        SESSION_VIDEOS,
        "Opt-in (videos are large): run the `usertesting_sync_with_videos` job or `ut-dagster sync --videos`.",
    ),
    deps=[AssetKey([*KEY_PREFIX, "raw_sessions"])],
)
def session_videos(
    context: AssetExecutionContext,
    config: VideoConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncPolicyResource,
):
    step = start_api_step(context, usertesting, object_store)
    retry = sync_settings.retry_policy()
    options = VideoOptions(
        retry,
        max_attempts=config.max_attempts,
        no_video_probe=config.no_video_probe,
        full=config.full,
        retry_failed=config.retry_failed,
    )

    def progress(todo: int) -> SyncProgress:
        return SyncProgress(
            context.log, step.test_id, "session_videos", todo, step.client.stats, unit="videos"
        )

    with step.exclusive():
        result = sync_videos(
            step.test_id,
            step.client,
            step.landing,
            options,
            progress,
            step.still_registered,
            context.log.warning,
        )
    # Few rows per test, each one small: the test's partition is rewritten whole.
    frame = to_frame(SESSION_VIDEOS, result.records)
    yield Output(
        TableWrite(SESSION_VIDEOS, frame, None),
        metadata={
            **title_metadata(object_store, step.test_id),
            "videos_removed": result.removed,
            "videos_downloaded": result.downloaded,
            "videos_already_archived": result.archived,
            "sessions_without_video": result.no_video,
            "videos_not_asked_test_has_none": result.skipped,
            "videos_waiting_to_retry": result.waiting,
            "sessions_quarantined": len(quarantined_of(result.failures, retry)),
            "bytes_archived": int(frame["size_bytes"].sum()) if len(frame) else 0,
            **failures_metadata(result.failed_now),
            **step.spent(),
        },
    )
    if result.fatal is not None:
        raise result.fatal

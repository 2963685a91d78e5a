"""`usertesting/clip_media`: the videos of the clips and highlight reels researchers made, archived in
your object store, verified. Opt-in like session videos: media is large and each item costs at least
one API request (its status and 15-minute link), polled while UserTesting prepares it.

The work is lib/sync/clips_media.py's; this module says what Dagster shows.
"""

from dagster import AssetExecutionContext, AssetKey, Output, ResourceParam, asset
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
from dagster_usertesting.lib.schema import CLIP_MEDIA, CLIPS, HIGHLIGHT_REELS
from dagster_usertesting.lib.sync.clips_media import ClipMediaOptions, MediaOptions, sync_clip_media
from dagster_usertesting.lib.sync.retries import quarantined_of
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.warehouse import TableWrite
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager


class ClipMediaConfig(SyncConfig):
    status_polls: int = Field(
        default=MediaOptions.polls,
        description="Status requests per item while UserTesting prepares its media (GENERATING), waits "
        "doubling from 2 s; still not ready after them, the item is asked again in a later run.",
    )


@sync_step(
    asset,
    **PER_TEST_API_ASSET,
    **table_asset_kwargs(
        CLIP_MEDIA,
        "Opt-in (media is large): run the `usertesting_sync_with_videos` job or `ut-dagster sync --videos`. "
        "A removed clip's archived file is kept; only its row goes.",
    ),
    deps=[AssetKey([*KEY_PREFIX, CLIPS.name]), AssetKey([*KEY_PREFIX, HIGHLIGHT_REELS.name])],
)
def clip_media(
    context: AssetExecutionContext,
    config: ClipMediaConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncPolicyResource,
    io_manager: ResourceParam[WarehouseIOManager],
):
    step = start_api_step(context, usertesting, object_store)
    retry = sync_settings.retry_policy()
    options = ClipMediaOptions(
        retry,
        MediaOptions(polls=config.status_polls),
        retry_failed=config.retry_failed,
        ask=sync_settings.clips,
    )
    if not sync_settings.clips:
        context.log.info("Clips are off (UT_CLIPS=false): media already archived is listed, nothing asked.")

    def progress(todo: int) -> SyncProgress:
        return SyncProgress(context.log, step.test_id, "clip_media", todo, step.client.stats, unit="media")

    with step.exclusive():
        result = sync_clip_media(
            step.test_id,
            step.client,
            step.landing,
            io_manager.client(),
            options,
            progress,
            step.still_registered,
        )
    frame = to_frame(CLIP_MEDIA, result.records)
    yield Output(
        TableWrite(CLIP_MEDIA, frame, None),
        metadata={
            **title_metadata(object_store, step.test_id),
            "media_downloaded": result.downloaded,
            "media_already_archived": result.archived,
            "media_gone_upstream": result.gone,
            "media_waiting_to_retry": result.waiting,
            "media_quarantined": len(quarantined_of(result.failures, retry)),
            "bytes_archived": int(frame["size_bytes"].sum()) if len(frame) else 0,
            **failures_metadata(result.failed_now),
            **step.spent(),
        },
    )
    if result.fatal is not None:
        raise result.fatal

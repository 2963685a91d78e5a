"""`usertesting/highlight_reels`, `usertesting/clips`, `usertesting/clip_transcripts`: what researchers
flagged in a test's sessions, and what the participant said in those moments.

Researchers clip session videos after the sessions end, over days; each session's clip list is one API
request, so a session is asked again only at settle points and when the test's reels change (see
lib/sync/clips_policy.py and docs/api-budget.md). Off with UT_CLIPS=false.
"""

from dagster import AssetExecutionContext, AssetKey, AssetOut, Output, ResourceParam, multi_asset
from pydantic import Field

from dagster_usertesting.defs.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    failures_metadata,
    start_api_step,
    table_asset_kwargs,
    table_write,
)
from dagster_usertesting.defs.assets.factory import sync_step
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import CLIP_TRANSCRIPTS, CLIPS, HIGHLIGHT_REELS
from dagster_usertesting.lib.sync.clips_policy import ClipsPolicy
from dagster_usertesting.lib.sync.clips_step import ClipOptions, sync_clips
from dagster_usertesting.lib.sync.retries import quarantined_of
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager


class ClipConfig(SyncConfig):
    clip_settle_hours: list[float] = Field(
        default=list(ClipsPolicy.settle_hours),
        description="Hours after a session finished at which its clips are asked for again (researchers "
        "clip over days); the first is when it is first asked unless the reels changed sooner.",
    )
    clip_recent_hours: float = Field(
        default=ClipsPolicy.recent_hours,
        description="When the test's highlight reels change, sessions that finished less than this long "
        "ago are asked again.",
    )
    clip_reels_every_hours: float = Field(
        default=ClipsPolicy.reels_every_hours,
        description="Ask a test's highlight reels (which tell that clips changed) at most this often.",
    )


@sync_step(
    multi_asset,
    name="clip_tables",
    **PER_TEST_API_ASSET,
    # After the transcripts: clip_transcripts cut what was said during each clip out of them.
    deps=[AssetKey([*KEY_PREFIX, "raw_sessions"]), AssetKey([*KEY_PREFIX, "transcripts"])],
    outs={
        # Not required: with UT_CLIPS=false the step asks and writes nothing.
        HIGHLIGHT_REELS.name: AssetOut(
            **table_asset_kwargs(
                HIGHLIGHT_REELS, "Think-out-loud, interaction and live-conversation tests only."
            ),
            is_required=False,
        ),
        CLIPS.name: AssetOut(
            **table_asset_kwargs(
                CLIPS, "A clip removed by researchers goes once two answers an hour apart no longer list it."
            ),
            is_required=False,
        ),
        CLIP_TRANSCRIPTS.name: AssetOut(
            **table_asset_kwargs(CLIP_TRANSCRIPTS, "Join to clips on clip_id; to tasks by session and time."),
            is_required=False,
        ),
    },
)
def clip_tables(
    context: AssetExecutionContext,
    config: ClipConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncPolicyResource,
    io_manager: ResourceParam[WarehouseIOManager],
):
    if not sync_settings.clips:
        context.log.info("Clips are off (UT_CLIPS=false): nothing asked, nothing written.")
        return
    # The step's requests ride on clips, the output that carries its metadata.
    step = start_api_step(context, usertesting, object_store, reports_to=AssetKey([*KEY_PREFIX, CLIPS.name]))
    retry = sync_settings.retry_policy()
    options = ClipOptions(
        retry,
        ClipsPolicy(
            tuple(config.clip_settle_hours),
            config.clip_recent_hours,
            reels_every_hours=config.clip_reels_every_hours,
        ),
        full=config.full,
        rebuild=config.rebuild,
        retry_failed=config.retry_failed,
    )

    def progress(todo: int) -> SyncProgress:
        return SyncProgress(context.log, step.test_id, "clips", todo, step.client.stats)

    with step.exclusive():
        result = sync_clips(
            step.test_id,
            step.client,
            step.landing,
            io_manager.client(),
            options,
            progress,
            step.still_registered,
        )
    sessions = frozenset(result.changes.sessions)
    yield Output(table_write(HIGHLIGHT_REELS, result.reels, None), output_name=HIGHLIGHT_REELS.name)
    # clip_transcripts first, clips last: once clips holds a session, so does clip_transcripts.
    yield Output(
        table_write(CLIP_TRANSCRIPTS, result.clip_transcripts, sessions), output_name=CLIP_TRANSCRIPTS.name
    )
    yield Output(
        table_write(CLIPS, result.clips, sessions),
        output_name=CLIPS.name,
        metadata={
            "test_product_type": result.product_type or "unknown",
            "reels_requested": result.reels_asked,
            "study_with_clips": "unknown" if result.study_with_clips is None else result.study_with_clips,
            "clip_lists_requested": result.asked,
            **{f"clip_lists_requested_{k.replace(' ', '_')}": v for k, v in sorted(result.due.items())},
            # The all-clips reel counts clips not held yet: found at their sessions' next settle point.
            "clips_unaccounted": -1 if result.unaccounted is None else result.unaccounted,
            "sessions_removed": len(result.changes.delete),
            "sessions_failing": len(result.failures),
            "sessions_quarantined": len(quarantined_of(result.failures, retry)),
            **failures_metadata(result.failed_now),
            **step.spent(),
        },
    )
    if result.fatal is not None:
        raise result.fatal

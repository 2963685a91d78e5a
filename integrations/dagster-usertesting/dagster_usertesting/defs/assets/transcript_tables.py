"""`usertesting/transcripts` and `usertesting/transcript_chunks`: what participants said.

Only think-out-loud and live-conversation sessions have transcripts, and one can appear some time
after the session completes; see lib/sync/transcripts_step.py for when each is asked for.
"""

from dagster import AssetExecutionContext, AssetKey, Output, ResourceParam, multi_asset
from pydantic import Field

from dagster_usertesting.defs.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    counts_text,
    failures_metadata,
    start_api_step,
    table_out,
    table_write,
    write_together,
)
from dagster_usertesting.defs.assets.factory import sync_step
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.titles import title_metadata
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import TRANSCRIPT_CHUNKS, TRANSCRIPTS
from dagster_usertesting.lib.sync.retries import quarantined_of
from dagster_usertesting.lib.sync.transcripts_step import TranscriptOptions, sync_transcripts
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager


class TranscriptConfig(SyncConfig):
    transcript_wait_hours: float = Field(
        default=72.0, description="How long after a session finishes a missing transcript is asked for again."
    )
    transcript_recheck_hours: float = Field(
        default=1.0, description="Wait before the first re-ask of a missing transcript; doubles each time."
    )
    chunk_max_chars: int = Field(default=1500, description="Maximum characters per transcript chunk.")
    no_transcript_probe: int = Field(
        default=10,
        description="After this many settled sessions of a test without a transcript, and none with one, "
        "treat the test as one without transcripts (surveys, interaction tests) and stop asking. 0 = always ask.",
    )


RAW_SESSIONS_KEY = AssetKey([*KEY_PREFIX, "raw_sessions"])


@sync_step(
    multi_asset,
    name="transcript_tables",
    **PER_TEST_API_ASSET,
    deps=[RAW_SESSIONS_KEY],
    # Chunks are cut from the landed transcripts, so the lineage shows them under transcripts.
    internal_asset_deps={
        TRANSCRIPTS.name: {RAW_SESSIONS_KEY},
        TRANSCRIPT_CHUNKS.name: {AssetKey([*KEY_PREFIX, TRANSCRIPTS.name])},
    },
    outs={
        TRANSCRIPTS.name: table_out(
            TRANSCRIPTS, "Fetched once per session; a missing one is retried for a while."
        ),
        TRANSCRIPT_CHUNKS.name: table_out(TRANSCRIPT_CHUNKS),
    },
)
def transcript_tables(
    context: AssetExecutionContext,
    config: TranscriptConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncPolicyResource,
    io_manager: ResourceParam[WarehouseIOManager],
):
    step = start_api_step(
        context, usertesting, object_store, reports_to=AssetKey([*KEY_PREFIX, TRANSCRIPTS.name])
    )
    warehouse = io_manager.client()
    retry = sync_settings.retry_policy()
    options = TranscriptOptions(
        retry,
        wait_hours=config.transcript_wait_hours,
        recheck_hours=config.transcript_recheck_hours,
        chunk_max_chars=config.chunk_max_chars,
        no_transcript_probe=config.no_transcript_probe,
        full=config.full,
        rebuild=config.rebuild,
        retry_failed=config.retry_failed,
    )

    def progress(todo: int) -> SyncProgress:
        return SyncProgress(context.log, step.test_id, "transcripts", todo, step.client.stats)

    with step.exclusive():
        result = sync_transcripts(
            step.test_id,
            step.client,
            step.landing,
            warehouse,
            options,
            progress,
            step.still_registered,
        )
    sessions = None if config.rebuild else frozenset(result.written | result.changes.delete)
    named = title_metadata(object_store, step.test_id)
    written = write_together(
        warehouse,
        step.test_id,
        [
            table_write(TRANSCRIPTS, result.transcripts, sessions),
            table_write(TRANSCRIPT_CHUNKS, result.chunks, sessions),
        ],
    )
    yield Output(
        None,
        output_name=TRANSCRIPTS.name,
        metadata={
            **named,
            **written[TRANSCRIPTS.name],
            "transcripts_requested": result.asked,
            "transcripts_found": result.found,
            "test_product_type": result.product_type or "unknown",
            "sessions_failing": len(result.failures),
            # Read, not plotted: mostly 0, or constant for a test without transcripts.
            "sessions": counts_text(
                transcripts_not_asked_test_has_none=result.skipped,
                sessions_removed=len(result.changes.delete),
                sessions_quarantined=len(quarantined_of(result.failures, retry)),
            ),
            **failures_metadata(result.failed_now),
            **step.spent(),
        },
    )
    yield Output(
        None, output_name=TRANSCRIPT_CHUNKS.name, metadata={**named, **written[TRANSCRIPT_CHUNKS.name]}
    )
    if result.fatal is not None:
        raise result.fatal

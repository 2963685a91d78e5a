"""`usertesting/transcripts` and `usertesting/transcript_chunks`: what participants said.

Only think-out-loud and live-conversation sessions have transcripts, and one can appear some time
after the session completes. A 404 is therefore asked again on later syncs, with growing spacing,
until `transcript_wait_hours` after the session finished; then it is final.
"""

from datetime import datetime

from dagster import AssetExecutionContext, AssetKey, Output, multi_asset
from pydantic import Field

from ut_dagster.defs.usertesting.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    failures_metadata,
    start_api_step,
    table_out,
    table_write,
)
from ut_dagster.lib.landing import LandedObject, stamp, utc_now
from ut_dagster.lib.normalize import chunk_rows, parse_api_time, parse_cues, transcript_rows
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.progress import SyncProgress
from ut_dagster.lib.schema import TRANSCRIPT_CHUNKS, TRANSCRIPTS
from ut_dagster.lib.study_catalog import landed_product_types
from ut_dagster.lib.sync_policy import (
    WITHOUT_TRANSCRIPTS,
    table_changes,
    transcript_recheck_due,
    transcript_settled,
)
from ut_dagster.lib.usertesting_api.resource import UserTestingResource

FOLDER = "transcripts"
LOADED = "loaded_transcripts"
GONE = "gone"


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


@multi_asset(
    name="transcript_tables",
    **PER_TEST_API_ASSET,
    deps=[AssetKey([*KEY_PREFIX, "raw_sessions"])],
    outs={
        TRANSCRIPTS.name: table_out(
            TRANSCRIPTS, "Fetched once per session; a missing one is retried for a while.", calls_api=True
        ),
        TRANSCRIPT_CHUNKS.name: table_out(TRANSCRIPT_CHUNKS),
    },
)
def transcript_tables(
    context: AssetExecutionContext,
    config: TranscriptConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
):
    step = start_api_step(context, usertesting, object_store)
    test_id, client, landing = step.test_id, step.client, step.landing
    started = utc_now()

    listing = landing.read_listing(test_id)
    gone = landing.read_state(test_id, GONE)
    finished = {
        sid: parse_api_time(s.get("finishTime")) for sid, s in listing.sessions.items() if sid not in gone
    }
    landed = landing.latest_by_session(test_id, FOLDER)
    landing.delete_sessions(test_id, FOLDER, landed.keys() - finished.keys())
    landed = {sid: objs for sid, objs in landed.items() if sid in finished}
    # Only think-out-loud and live-conversation tests have transcripts, and the API does not say
    # which kind a test is: a test whose settled sessions all lack one costs `no_transcript_probe`
    # requests once, instead of one request per session forever.
    has_any = any(o.kind == "vtt" for objs in landed.values() for o in objs)
    # When the test list says what kind of test this is, a kind without narration costs nothing.
    kind = landed_product_types(landing.store).get(test_id)
    known_without = kind in WITHOUT_TRANSCRIPTS and not has_any
    settled = sum(
        transcript_settled(_times(_missing(objs)), finished.get(sid), started, config.transcript_wait_hours)
        for sid, objs in landed.items()
        if not _transcript(objs)
    )
    asked = found = skipped = 0
    progress = SyncProgress(context.log, test_id, "transcripts", len(finished), client.stats)
    for session_id, finished_at in finished.items():
        progress.advance()
        objects = landed.get(session_id, [])
        transcript = _transcript(objects)
        if transcript is not None and not (config.full and transcript.received_at < started):
            continue
        missing = _missing(objects)
        if not config.full:
            if known_without or (not has_any and 0 < config.no_transcript_probe <= settled):
                skipped += 1
                continue
            if missing and not transcript_recheck_due(
                _times(missing), finished_at, utc_now(), _spacing(config)
            ):
                continue
        raw = client.get_transcript_raw(session_id)
        asked += 1
        obj = landing.put_session_object(
            test_id, FOLDER, session_id, "missing" if raw is None else "vtt", raw or b"", utc_now()
        )
        landed.setdefault(session_id, []).insert(0, obj)
        found += raw is not None
        has_any = has_any or raw is not None
        settled += raw is None and transcript_settled(
            _times([obj, *missing]), finished_at, utc_now(), config.transcript_wait_hours
        )

    progress.finish()
    latest = {sid: t for sid, objs in landed.items() if (t := _transcript(objs)) is not None}
    current = {sid: stamp(obj.received_at) for sid, obj in latest.items()}
    changes = table_changes(current, landing.read_state(test_id, LOADED))
    written = set(current) if config.rebuild else set(changes.write)
    transcript_out, chunk_out, failures = [], [], {}
    for obj, body in landing.read_many(latest[sid] for sid in written):
        # Decoded leniently: a stray invalid byte must not cost the whole transcript.
        vtt = body.decode("utf-8", errors="replace")
        try:
            transcript_out.extend(transcript_rows(test_id, obj.session_id, vtt, obj.received_at))
            chunk_out.extend(
                chunk_rows(test_id, obj.session_id, parse_cues(vtt), obj.received_at, config.chunk_max_chars)
            )
        except ValueError as exc:
            # Kept in the landing area; a normalizer fix re-derives it without a new request.
            failures[obj.session_id] = str(exc)
            del current[obj.session_id]
    sessions = None if config.rebuild else frozenset(changes.write | changes.delete)
    yield Output(
        table_write(TRANSCRIPTS, transcript_out, sessions),
        output_name=TRANSCRIPTS.name,
        metadata={
            "transcripts_requested": asked,
            "transcripts_found": found,
            "transcripts_not_asked_test_has_none": skipped,
            "test_product_type": kind or "unknown",
            "sessions_removed": len(changes.delete),
            **failures_metadata(failures),
            **step.spent(),
        },
    )
    yield Output(table_write(TRANSCRIPT_CHUNKS, chunk_out, sessions), output_name=TRANSCRIPT_CHUNKS.name)
    landing.write_state(test_id, LOADED, current)


def _transcript(objects: list[LandedObject]) -> LandedObject | None:
    return next((o for o in objects if o.kind == "vtt"), None)


def _missing(objects: list[LandedObject]) -> list[LandedObject]:
    return [o for o in objects if o.kind == "missing"]


def _times(objects: list[LandedObject]) -> list[datetime]:
    return [o.received_at for o in objects]


def _spacing(config: TranscriptConfig) -> tuple[float, float]:
    return config.transcript_recheck_hours, config.transcript_wait_hours

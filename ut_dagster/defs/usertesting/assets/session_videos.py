"""`usertesting/session_videos`: session recordings archived in your object store, verified.

Pre-signed links last about an hour, so each is used right after it is obtained and never stored.
Videos stream straight into the store (constant memory) under a temporary name or an unfinished
multipart upload, committed only when complete; a record with size and SHA-256 is written after
the commit, so a partial video is never taken for an archived one.
"""

import hashlib
import json

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, Output, asset
from pydantic import Field

from ut_dagster.defs.usertesting.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    failures_metadata,
    start_api_step,
    table_asset,
)
from ut_dagster.defs.usertesting.resources import SyncSettings
from ut_dagster.lib.ids import SessionId, TestId
from ut_dagster.lib.landing import utc_now
from ut_dagster.lib.normalize import to_frame
from ut_dagster.lib.object_store import ObjectStore, ObjectStoreResource
from ut_dagster.lib.progress import SyncProgress
from ut_dagster.lib.schema import SESSION_VIDEOS
from ut_dagster.lib.sync.retries import ask_now, failed, quarantined_of
from ut_dagster.lib.sync.state import VIDEO, SyncState
from ut_dagster.lib.usertesting_api.client import UserTestingClient
from ut_dagster.lib.usertesting_api.errors import (
    UserTestingNotFoundError,
    UserTestingUnavailableError,
    VideoLinkExpiredError,
)
from ut_dagster.lib.usertesting_api.resource import UserTestingResource
from ut_dagster.lib.warehouse import TableWrite


class VideoConfig(SyncConfig):
    max_attempts: int = Field(default=4, description="Download attempts per video (fresh link after a 403).")
    no_video_probe: int = Field(
        default=10,
        description="After this many sessions of a test without a video, and none with one, stop asking "
        "for the test's videos (surveys have none). 0 = always ask.",
    )


def video_key(test_id: TestId, session_id: str, suffix: str) -> str:
    # Free for typed IDs; anything else is matched before it can reach a key.
    return f"videos/{TestId(test_id)}/{SessionId(session_id)}{suffix}"


@asset(
    **PER_TEST_API_ASSET,
    **table_asset(
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
    sync_settings: SyncSettings,
):
    step = start_api_step(context, usertesting, object_store)
    test_id, client, store = step.test_id, step.client, step.landing.store
    listing = step.landing.read_listing(test_id)
    listed = list(listing.sessions)
    state = SyncState(step.landing, test_id)
    failures = state.failures(VIDEO)
    retry = sync_settings.retry_policy()
    started = utc_now()
    # One listing instead of a few lookups per session: on S3 that is the difference for big tests.
    keys = set(store.list_keys(f"videos/{test_id}"))
    # Sessions deleted upstream (by a deletion decision, nothing less) take their recordings with them.
    removed = {k.rsplit("/", 1)[1].split(".", 1)[0] for k in keys} & listing.deleted.keys()
    for key in [k for k in keys if k.rsplit("/", 1)[1].split(".", 1)[0] in removed]:
        store.delete(key)
        keys.discard(key)
    has_any = any(k.endswith(".json") for k in keys)
    nones = sum(k.endswith(".none") for k in keys)
    archived = downloaded = no_video = skipped = waiting = 0
    failed_now: dict[str, str] = {}
    records = []
    progress = SyncProgress(context.log, test_id, "session_videos", len(listed), client.stats, unit="videos")
    for session_id in listed:
        progress.advance()

        def landed(suffix: str, session_id: str = session_id) -> bool:
            return video_key(test_id, session_id, suffix) in keys

        if landed(".json") and not config.full:
            records.append(_read_record(store, test_id, session_id))
            archived += 1
            continue
        if landed(".none") and not config.full:
            no_video += 1
            continue
        if landed(".mp4") and not config.full:
            # Killed after the video was committed but before its record: checksum it from the store.
            records.append(_write_record(store, test_id, session_id, *_checksum(store, test_id, session_id)))
            archived += 1  # archived by an earlier run: counted, or the metadata would miss it
            continue
        # Surveys have no videos and the API does not say which kind a test is: after
        # `no_video_probe` sessions without one (and none with one), stop asking for this test.
        if not has_any and 0 < config.no_video_probe <= nones and not config.full:
            skipped += 1
            continue
        if not config.full and not ask_now(
            failures.get(session_id), started, retry, retry_failed=config.retry_failed
        ):
            waiting += 1
            continue
        if not step.still_registered():
            break  # the test was forgotten while this run was going: land nothing more of it
        try:
            result = _archive(client, store, test_id, session_id, config.max_attempts)
        except (UserTestingUnavailableError, VideoLinkExpiredError, UserTestingNotFoundError) as exc:
            # This session's problem only: recorded, backed off, and the other videos are archived.
            failures[session_id] = failed(failures.get(session_id), utc_now(), str(exc))
            failed_now[session_id] = str(exc)
            state.save_failures(VIDEO, failures)
            context.log.warning(f"Session {session_id}: video not archived: {exc}")
            continue
        if failures.pop(session_id, None) is not None:
            state.save_failures(VIDEO, failures)
        if result is None and landed(".json"):
            # A 404 for a video we hold (a --full sync) is a question, not an answer: keep it.
            records.append(_read_record(store, test_id, session_id))
            archived += 1
            continue
        if result is None:
            store.put_bytes(video_key(test_id, session_id, ".none"), b"")
            no_video += 1
            nones += 1
            continue
        records.append(result)
        downloaded += 1
        has_any = True

    progress.finish()
    state.save_failures(VIDEO, {s: f for s, f in failures.items() if s not in listing.deleted})
    # Few rows per test, each one small: the test's partition is rewritten whole.
    frame = to_frame(SESSION_VIDEOS, [r for r in records if r is not None])
    yield Output(
        TableWrite(SESSION_VIDEOS, frame, None),
        metadata={
            "videos_removed": len(removed),
            "videos_downloaded": downloaded,
            "videos_already_archived": archived,
            "sessions_without_video": no_video,
            "videos_not_asked_test_has_none": skipped,
            "videos_waiting_to_retry": waiting,
            "sessions_quarantined": len(quarantined_of(failures, retry)),
            "bytes_archived": int(frame["size_bytes"].sum()) if len(frame) else 0,
            **failures_metadata(failed_now),
            **step.spent(),
        },
    )


def _archive(
    client: UserTestingClient, store: ObjectStore, test_id: TestId, session_id: str, attempts: int
) -> dict | None:
    link = client.get_video_download_url(session_id)
    if link is None:
        return None
    last_error: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            with client.open_video(link) as download:
                stored = store.put_stream(
                    video_key(test_id, session_id, ".mp4"), download.chunks, download.content_type
                )
            return _write_record(
                store, test_id, session_id, stored.size_bytes, stored.sha256, download.content_type
            )
        except VideoLinkExpiredError as exc:
            last_error = exc
            if attempt == attempts:
                break  # no attempt left to use a fresh link: do not spend an API request on one
            link = client.get_video_download_url(session_id)  # the only retry that costs a request
            if link is None:
                return None
        except UserTestingUnavailableError as exc:
            last_error = exc  # an interrupted transfer: the same link is still good, try again
    raise UserTestingUnavailableError(f"gave up after {attempts} attempts: {last_error}")


def _write_record(
    store: ObjectStore, test_id: TestId, session_id: str, size: int, sha256: str, content_type: str
) -> dict:
    record = {
        "test_id": test_id,
        "session_id": session_id,
        "video_storage_path": store.uri(video_key(test_id, session_id, ".mp4")),
        "size_bytes": size,
        "sha256": sha256,
        "content_type": content_type,
        "downloaded_at": utc_now().isoformat(),
    }
    store.put_bytes(video_key(test_id, session_id, ".json"), json.dumps(record).encode(), "application/json")
    return _record_row(record)


def _read_record(store: ObjectStore, test_id: TestId, session_id: str) -> dict | None:
    raw = store.get_bytes(video_key(test_id, session_id, ".json"))
    return None if raw is None else _record_row(json.loads(raw))


def _record_row(record: dict) -> dict:
    return {**record, "downloaded_at": pd.Timestamp(record["downloaded_at"]).to_pydatetime()}


def _checksum(store: ObjectStore, test_id: TestId, session_id: str) -> tuple[int, str, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in store.iter_bytes(video_key(test_id, session_id, ".mp4")):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest(), "video/mp4"

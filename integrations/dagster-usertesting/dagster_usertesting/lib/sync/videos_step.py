"""The videos step of a test's sync: each session's recording archived once, verified.

Pre-signed links last about an hour, so each is used right after it is obtained and never stored.
Videos stream straight into the store (constant memory) under a temporary name or an unfinished
multipart upload, committed only when complete; a record with size and SHA-256 is written after
the commit, so a partial video is never taken for an archived one. A video that fails is that
session's problem only: recorded, backed off (retries.py), and the others are archived.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from dagster_usertesting.lib.ids import SessionId, TestId
from dagster_usertesting.lib.landing import Landing, utc_now
from dagster_usertesting.lib.object_store import ObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.sync import retries
from dagster_usertesting.lib.sync.retries import Failure, RetryPolicy
from dagster_usertesting.lib.sync.revocation import EXPECTED_404_CHECK_AFTER, NotFound, NotFoundEvidence
from dagster_usertesting.lib.sync.state import VIDEO, SyncState
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.errors import (
    UserTestingError,
    UserTestingNotFoundError,
    UserTestingUnavailableError,
    VideoLinkExpiredError,
)


@dataclass(frozen=True)
class VideoOptions:
    retry: RetryPolicy
    max_attempts: int = 4
    no_video_probe: int = 10
    full: bool = False
    retry_failed: bool = False


@dataclass
class VideosResult:
    records: list[dict]  # one row per archived video of a listed session
    removed: int = 0
    downloaded: int = 0
    archived: int = 0
    no_video: int = 0
    skipped: int = 0
    waiting: int = 0
    failures: dict[str, Failure] = field(default_factory=dict)
    failed_now: dict[str, str] = field(default_factory=dict)
    fatal: UserTestingError | None = None


def video_key(test_id: TestId, session_id: str, suffix: str) -> str:
    # Free for typed IDs; anything else is matched before it can reach a key.
    return f"videos/{TestId(test_id)}/{SessionId(session_id)}{suffix}"


def sync_videos(
    test_id: TestId,
    client: UserTestingClient,
    landing: Landing,
    options: VideoOptions,
    start_progress: Callable[[int], SyncProgress],
    may_land: Callable[[], bool] = lambda: True,
    warn: Callable[[str], None] = lambda message: None,
) -> VideosResult:
    store = landing.store
    listing = landing.read_listing(test_id)
    state = SyncState(landing, test_id)
    failures = state.failures(VIDEO)
    started = utc_now()
    # One listing instead of a few lookups per session: on S3 that is the difference for big tests.
    keys = set(store.list_keys(f"videos/{test_id}"))
    # Sessions deleted upstream (by a deletion decision, nothing less) take their recordings with them.
    removed = {_session_of(k) for k in keys} & listing.deleted.keys()
    for key in [k for k in keys if _session_of(k) in removed]:
        store.delete(key)
        keys.discard(key)
    result = VideosResult([], removed=len(removed), failures=failures)
    has_any = any(k.endswith(".json") for k in keys)
    nones = sum(k.endswith(".none") for k in keys)
    evidence = NotFoundEvidence(client, test_id, "video", EXPECTED_404_CHECK_AFTER)

    def no_video(confirmed: list[NotFound]) -> None:
        nonlocal nones
        for nf in confirmed:
            if video_key(test_id, nf.session_id, ".json") in keys:
                # A 404 for a video we hold (a --full sync) is a question, not an answer: keep it.
                result.records.append(_read_record(store, test_id, nf.session_id))
                result.archived += 1
                continue
            store.put_bytes(video_key(test_id, nf.session_id, ".none"), b"")
            result.no_video += 1
            nones += 1

    progress = start_progress(len(listing.sessions))
    for session_id in listing.sessions:
        progress.advance()

        def landed(suffix: str, session_id: str = session_id) -> bool:
            return video_key(test_id, session_id, suffix) in keys

        if landed(".json") and not options.full:
            result.records.append(_read_record(store, test_id, session_id))
            result.archived += 1
            continue
        if landed(".none") and not options.full:
            result.no_video += 1
            continue
        if landed(".mp4") and not options.full:
            # Killed after the video was committed but before its record: checksum it from the store.
            result.records.append(
                _write_record(store, test_id, session_id, *_checksum(store, test_id, session_id))
            )
            result.archived += 1  # archived by an earlier run: counted, or the metadata would miss it
            continue
        if not options.full:
            # Surveys have no videos and the API does not say which kind a test is: after
            # `no_video_probe` sessions without one (and none with one), stop asking for this test.
            if not has_any and 0 < options.no_video_probe <= nones + evidence.held:
                result.skipped += 1
                continue
            if not retries.ask_now(
                failures.get(session_id), started, options.retry, retry_failed=options.retry_failed
            ):
                result.waiting += 1
                continue
        if not may_land():
            break  # the test was forgotten while this run was going: land nothing more of it
        try:
            record = _archive(client, store, test_id, session_id, options.max_attempts)
        except (UserTestingUnavailableError, VideoLinkExpiredError, UserTestingNotFoundError) as exc:
            failures[session_id] = retries.failed(failures.get(session_id), utc_now(), str(exc))
            result.failed_now[session_id] = str(exc)
            state.save_failures(VIDEO, failures)
            warn(f"Session {session_id}: video not archived: {exc}")
            continue
        if failures.pop(session_id, None) is not None:
            state.save_failures(VIDEO, failures)
        if record is None:
            # "No video", unless the test itself stopped answering: held back until it is known.
            confirmed, result.fatal = evidence.not_found(session_id, utc_now())
            no_video(confirmed)
            if result.fatal is not None:
                break
            continue
        no_video(evidence.answered())
        result.records.append(record)
        result.downloaded += 1
        has_any = True
    if result.fatal is None:
        confirmed, result.fatal = evidence.settle()
        no_video(confirmed)
    progress.finish()
    result.failures = {s: f for s, f in failures.items() if s not in listing.deleted}
    state.save_failures(VIDEO, result.failures)
    result.records = [r for r in result.records if r is not None]
    return result


def _session_of(key: str) -> str:
    return key.rsplit("/", 1)[1].split(".", 1)[0]


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

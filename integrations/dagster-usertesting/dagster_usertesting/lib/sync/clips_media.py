"""Archive a clip's or a highlight reel's media into the object store (opt-in: the clip_media asset).

    clips/<test_id>/<session_id>/<clip_uuid>.mp4 (+ .json record)   reels/<test_id>/<reel_id>.mp4 (+ .json)

The media is prepared on demand: its details answer GENERATING until ready, then a link valid 15
minutes. The details are polled with doubling waits (`wait`, injected: tests do not sleep), the link
is used at once and never stored, the bytes stream into the store with their SHA-256 and are
committed only when complete, and the record is written after the commit: an archived file is never
downloaded again, and a partial one is never taken for archived. An expired link costs one more
details request; an ERROR status is asked again, as the spec says, within the same polls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from dagster_usertesting.lib.ids import SessionId, TestId
from dagster_usertesting.lib.landing import Landing, utc_now
from dagster_usertesting.lib.object_store import ObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import CLIP_MEDIA, CLIPS, HIGHLIGHT_REELS
from dagster_usertesting.lib.sync import retries
from dagster_usertesting.lib.sync.retries import Failure, RetryPolicy
from dagster_usertesting.lib.sync.state import CLIP_MEDIA as CLIP_MEDIA_ENDPOINT
from dagster_usertesting.lib.sync.state import SyncState
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient, VideoLink
from dagster_usertesting.lib.usertesting_api.errors import (
    UserTestingError,
    UserTestingUnavailableError,
    VideoLinkExpiredError,
)
from dagster_usertesting.lib.warehouse import WarehouseClient


@dataclass(frozen=True)
class MediaOptions:
    polls: int = 6  # details requests while GENERATING (or ERROR) before giving up for this run
    first_wait_s: float = 2.0  # then 4, 8, ... seconds ("every few seconds", the spec says)
    max_wait_s: float = 30.0
    attempts: int = 3  # downloads per media (an expired link costs one more details request)


def clip_media_key(test_id: TestId, session_id: str, clip_uuid: str, suffix: str) -> str:
    return f"clips/{TestId(test_id)}/{SessionId(session_id)}/{SessionId(clip_uuid)}{suffix}"


def reel_media_key(test_id: TestId, reel_id: str, suffix: str) -> str:
    return f"reels/{TestId(test_id)}/{SessionId(reel_id)}{suffix}"


@dataclass(frozen=True)
class _Media:
    """A clip's or reel's media: how to ask for it, where it is archived, what its record says."""

    ask: Callable[[], tuple[str, VideoLink | None] | None]
    key_of: Callable[[str], str]  # suffix -> object key
    identity: dict

    @property
    def name(self) -> str:  # the failure record's key: clip:<id> or highlight_reel:<id>
        return f"{self.identity['media_kind']}:{self.identity['media_id']}"


def _clip(client: UserTestingClient, test_id: TestId, session_id: str, clip_uuid: str) -> _Media:
    return _Media(
        partial(client.get_clip_media, session_id, clip_uuid),
        partial(clip_media_key, test_id, session_id, clip_uuid),
        {"test_id": test_id, "media_kind": "clip", "session_id": session_id, "media_id": clip_uuid},
    )


def _reel(client: UserTestingClient, test_id: TestId, reel_id: str) -> _Media:
    return _Media(
        partial(client.get_reel_media, test_id, reel_id),
        partial(reel_media_key, test_id, reel_id),
        {"test_id": test_id, "media_kind": "highlight_reel", "session_id": None, "media_id": reel_id},
    )


def archive_clip(
    client: UserTestingClient,
    store: ObjectStore,
    test_id: TestId,
    session_id: str,
    clip_uuid: str,
    options: MediaOptions = MediaOptions(),
    wait: Callable[[float], None] = time.sleep,
) -> dict | None:
    """The clip's archive record, downloading it only if not archived yet; None when the clip is gone.

    Raises UserTestingUnavailableError when it is still not ready after `options.polls` polls or
    every download failed: the next run asks again."""
    return _archive(_clip(client, test_id, session_id, clip_uuid), client, store, options, wait)


def archive_reel(
    client: UserTestingClient,
    store: ObjectStore,
    test_id: TestId,
    reel_id: str,
    options: MediaOptions = MediaOptions(),
    wait: Callable[[float], None] = time.sleep,
) -> dict | None:
    """As archive_clip, for a highlight reel. A reel is edited in place, so its archive is the
    version of the first download; the highlight_reels table says when it last changed."""
    return _archive(_reel(client, test_id, reel_id), client, store, options, wait)


def _archive(
    media: _Media,
    client: UserTestingClient,
    store: ObjectStore,
    options: MediaOptions,
    wait: Callable[[float], None],
) -> dict | None:
    if (held := store.get_bytes(media.key_of(".json"))) is not None:
        return dict(json.loads(held))  # archived: never downloaded again
    link = _ready_link(media.ask, options, wait)
    return None if link is None else _download(media, link, client, store, options, wait)


def _download(
    media: _Media,
    link: VideoLink,
    client: UserTestingClient,
    store: ObjectStore,
    options: MediaOptions,
    wait: Callable[[float], None],
) -> dict | None:
    """Stream the media into the store through `link` (a fresh one if it expired), then write its
    record; None when the media went while its link was renewed."""
    key = media.key_of(".mp4")
    for attempt in range(1, options.attempts + 1):
        try:
            with client.open_video(link) as download:
                stored = store.put_stream(key, download.chunks, download.content_type)
        except VideoLinkExpiredError:
            if attempt == options.attempts:
                break
            renewed = _ready_link(media.ask, options, wait)
            if renewed is None:
                return None
            link = renewed
            continue
        except UserTestingUnavailableError:
            continue  # an interrupted transfer: the same link is still good
        record = {
            **media.identity,
            "media_storage_path": store.uri(key),
            "size_bytes": stored.size_bytes,
            "sha256": stored.sha256,
            "content_type": download.content_type,
            "downloaded_at": utc_now().isoformat(),
        }
        store.put_bytes(media.key_of(".json"), json.dumps(record).encode(), "application/json")
        return record
    raise UserTestingUnavailableError(f"{media.name}: no download succeeded in {options.attempts} attempts")


def _ready_link(
    ask: Callable[[], tuple[str, VideoLink | None] | None],
    options: MediaOptions,
    wait: Callable[[float], None],
) -> VideoLink | None:
    """Poll until GENERATED (a link) or gone (None); raise when still not ready."""
    status = "unknown"
    for poll in range(options.polls):
        answer = ask()
        if answer is None:
            return None
        status, link = answer
        if link is not None:
            return link
        if poll + 1 < options.polls:
            wait(min(options.max_wait_s, options.first_wait_s * 2**poll))
    raise UserTestingUnavailableError(f"the media is still {status} after {options.polls} polls")


@dataclass(frozen=True)
class ClipMediaOptions:
    retry: RetryPolicy
    media: MediaOptions = MediaOptions()
    retry_failed: bool = False
    ask: bool = True  # False (UT_CLIPS=false): list what is archived, ask for nothing


@dataclass
class ClipMediaResult:
    records: list[dict] = field(default_factory=list)  # one row per archived clip or reel still held
    downloaded: int = 0
    archived: int = 0
    gone: int = 0  # answered 404: removed upstream, its row leaves with the next clips sync
    waiting: int = 0
    failures: dict[str, Failure] = field(default_factory=dict)
    failed_now: dict[str, str] = field(default_factory=dict)
    fatal: UserTestingError | None = None


def sync_clip_media(
    test_id: TestId,
    client: UserTestingClient,
    landing: Landing,
    warehouse: WarehouseClient,
    options: ClipMediaOptions,
    progress: Callable[[int], SyncProgress],
    still_registered: Callable[[], bool],
    wait: Callable[[float], None] = time.sleep,
) -> ClipMediaResult:
    """Archive the media of every clip and reel the warehouse holds for the test, each once.

    What to archive is read from the clips and highlight_reels tables (their sync decides what is
    held, removals included). Media that is not ready or fails is that item's problem: backed off
    and, after repeated failures, quarantined (retries.py); the others go on. Archived files stay in
    the store when a clip is removed upstream: only its row leaves this table."""
    store = landing.store
    state = SyncState(landing, test_id)
    failures = state.failures(CLIP_MEDIA_ENDPOINT)
    result = ClipMediaResult(failures=failures)
    now = utc_now()
    items = _held_media(test_id, client, warehouse)
    with progress(len(items)) as tracker:
        pending: list[_Media] = []
        for item in items:
            if (held := store.get_bytes(item.key_of(".json"))) is not None:  # archived: no request
                result.records.append(media_row(json.loads(held)))
                result.archived += 1
                tracker.advance()
            elif not options.ask:
                tracker.advance()
            elif retries.ask_now(
                failures.get(item.name), now, options.retry, retry_failed=options.retry_failed
            ):
                pending.append(item)
            else:
                result.waiting += 1
                tracker.advance()
        # Every pending item's status is asked once a round, and the round's waits are shared: media
        # nobody asked for starts GENERATING, and waiting item by item cost seconds per clip.
        statuses: dict[str, str] = {}
        for poll in range(options.media.polls):
            if poll:
                wait(min(options.media.max_wait_s, options.media.first_wait_s * 2 ** (poll - 1)))
            generating = []
            for item in pending:
                if not still_registered():
                    return _saved(state, failures, result)  # forgotten mid-run: nothing more lands
                try:
                    answer = item.ask()
                    if answer is not None and answer[1] is None:
                        statuses[item.name] = answer[0]
                        generating.append(item)
                        continue
                    record = (
                        None
                        if answer is None
                        else _download(item, answer[1], client, store, options.media, wait)
                    )
                except UserTestingUnavailableError as exc:  # no download went through, or 5xx
                    failures[item.name] = retries.failed(failures.get(item.name), now, str(exc))
                    result.failed_now[item.name] = str(exc)
                    tracker.advance()
                    continue
                except UserTestingError as exc:  # refused or misconfigured: the same for every item
                    result.fatal = exc
                    return _saved(state, failures, result)
                failures.pop(item.name, None)
                tracker.advance()
                if record is None:
                    result.gone += 1  # its row leaves with the next clips sync
                else:
                    result.records.append(media_row(record))
                    result.downloaded += 1
            pending = generating
            if not pending:
                break
        for item in pending:
            error = (
                f"the media is still {statuses.get(item.name, 'unknown')} after {options.media.polls} polls"
            )
            failures[item.name] = retries.failed(failures.get(item.name), now, error)
            result.failed_now[item.name] = error
            tracker.advance()
    return _saved(state, failures, result)


def _held_media(test_id: TestId, client: UserTestingClient, warehouse: WarehouseClient) -> list[_Media]:
    """The clips and reels the warehouse holds for the test (their sync decides what is held)."""
    clips = warehouse.read(CLIPS, test_id, columns=("session_id", "clip_id"))
    reels = warehouse.read(HIGHLIGHT_REELS, test_id, columns=("reel_id",))
    held = {(str(s), str(c)) for s, c in zip(clips["session_id"], clips["clip_id"], strict=True)}
    return [_clip(client, test_id, s, c) for s, c in sorted(held)] + [
        _reel(client, test_id, r) for r in sorted({str(r) for r in reels["reel_id"]})
    ]


def _saved(state: SyncState, failures: dict[str, Failure], result: ClipMediaResult) -> ClipMediaResult:
    state.save_failures(CLIP_MEDIA_ENDPOINT, failures)
    return result


def media_row(record: dict) -> dict:
    """An archive record as a clip_media row (the record keeps its time as ISO text)."""
    row = {column: record.get(column) for column in CLIP_MEDIA.column_names}
    return {**row, "downloaded_at": datetime.fromisoformat(record["downloaded_at"])}

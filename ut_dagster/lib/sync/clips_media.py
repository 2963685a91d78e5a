"""Archive a clip's or a highlight reel's media into the object store (opt-in; not yet an asset).

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
from dataclasses import dataclass

from ut_dagster.lib.ids import SessionId, TestId
from ut_dagster.lib.landing import utc_now
from ut_dagster.lib.object_store import ObjectStore
from ut_dagster.lib.usertesting_api.client import UserTestingClient, VideoLink
from ut_dagster.lib.usertesting_api.errors import UserTestingUnavailableError, VideoLinkExpiredError


@dataclass(frozen=True)
class MediaOptions:
    polls: int = 6  # details requests while GENERATING (or ERROR) before giving up for this run
    first_wait_s: float = 2.0  # then 4, 8, ... seconds ("every few seconds", the spec says)
    max_wait_s: float = 30.0
    attempts: int = 3  # downloads per media (an expired link costs one more details request)


def clip_media_key(test_id: TestId, session_id: str, clip_uuid: str, suffix: str) -> str:
    return f"clips/{TestId(test_id)}/{SessionId(session_id)}/{SessionId(clip_uuid)}{suffix}"


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
    record_key = clip_media_key(test_id, session_id, clip_uuid, ".json")
    if (held := store.get_bytes(record_key)) is not None:
        return dict(json.loads(held))  # archived: never downloaded again
    link = _ready_link(lambda: client.get_clip_media(session_id, clip_uuid), options, wait)
    if link is None:
        return None
    key = clip_media_key(test_id, session_id, clip_uuid, ".mp4")
    for attempt in range(1, options.attempts + 1):
        try:
            with client.open_video(link) as download:
                stored = store.put_stream(key, download.chunks, download.content_type)
        except VideoLinkExpiredError:
            if attempt == options.attempts:
                break
            link = _ready_link(lambda: client.get_clip_media(session_id, clip_uuid), options, wait)
            if link is None:
                return None
            continue
        except UserTestingUnavailableError:
            continue  # an interrupted transfer: the same link is still good
        record = {
            "test_id": test_id,
            "session_id": session_id,
            "clip_id": clip_uuid,
            "media_storage_path": store.uri(key),
            "size_bytes": stored.size_bytes,
            "sha256": stored.sha256,
            "content_type": download.content_type,
            "downloaded_at": utc_now().isoformat(),
        }
        store.put_bytes(record_key, json.dumps(record).encode(), "application/json")
        return record
    raise UserTestingUnavailableError(
        f"clip {clip_uuid}: no download succeeded in {options.attempts} attempts"
    )


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

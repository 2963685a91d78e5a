"""Clip media archived byte-exact through links that expire: polled while GENERATING with growing
waits, streamed and checksummed, never downloaded twice, nothing left behind when no link works."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from ut_dagster.lib.ids import TestId
from ut_dagster.lib.object_store.local import LocalObjectStore
from ut_dagster.lib.sync.clips_media import MediaOptions, archive_clip, clip_media_key
from ut_dagster.lib.usertesting_api.errors import UserTestingUnavailableError
from ut_dagster.sandbox import THINK_OUT_LOUD, SandboxServer, StudySpec


@pytest.fixture
def rig(tmp_path: Path, start_sandbox: Any, api_resource: Any) -> tuple[SandboxServer, Any, LocalObjectStore]:
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 3),), clip_size_bytes=300_000)
    client = api_resource(sandbox, max_retries=0).get_client()  # over a socket, as a deployment
    return sandbox, client, LocalObjectStore(tmp_path / "objects")


def first_clip(sandbox: SandboxServer) -> tuple[TestId, str, str]:
    test_id = sandbox.test_ids[0]
    session_id = next(r.session_id for r in sandbox.dataset.sessions(test_id) if r.ordinal == 0)
    return TestId(test_id), session_id, sandbox.dataset.clip_ids(session_id)[0]


def test_clip_media_is_archived_byte_exact_after_generating_and_never_twice(rig) -> None:
    sandbox, client, store = rig
    sandbox.configure(clip_generating_polls=3)
    test_id, session_id, clip = first_clip(sandbox)
    waits: list[float] = []
    record = archive_clip(client, store, test_id, session_id, clip, MediaOptions(polls=5), waits.append)
    assert record is not None and record["sha256"] == sandbox.dataset.clip_sha256(clip)
    data = store.get_bytes(clip_media_key(test_id, session_id, clip, ".mp4"))
    assert data is not None and hashlib.sha256(data).hexdigest() == record["sha256"]
    assert record["size_bytes"] == 300_000
    assert waits == [2.0, 4.0, 8.0]  # three GENERATING answers, waits doubling
    asked = len(sandbox.requests)
    assert archive_clip(client, store, test_id, session_id, clip, wait=waits.append) == record
    assert len(sandbox.requests) == asked and len(sandbox.video_requests) == 1  # not again


def test_an_expired_link_is_renewed_and_nothing_partial_is_kept(rig) -> None:
    sandbox, client, store = rig
    sandbox.configure(clip_generating_polls=0, clip_link_lifetime_seconds=0)  # every link is stale
    test_id, session_id, clip = first_clip(sandbox)
    with pytest.raises(UserTestingUnavailableError):
        archive_clip(client, store, test_id, session_id, clip, MediaOptions(attempts=2), lambda s: None)
    # Two links (the second asked after the first was refused), two refused downloads, nothing stored.
    assert sandbox.request_counts() == {"clip": 2}
    assert [r["status"] for r in sandbox.video_requests] == [403, 403]
    assert store.list_keys("clips/") == []
    sandbox.configure(clip_link_lifetime_seconds=900)
    record = archive_clip(client, store, test_id, session_id, clip, wait=lambda s: None)
    assert record is not None and record["sha256"] == sandbox.dataset.clip_sha256(clip)


def test_media_still_generating_gives_up_for_this_run_and_a_gone_clip_is_none(rig) -> None:
    sandbox, client, store = rig
    sandbox.configure(clip_generating_polls=10)
    test_id, session_id, clip = first_clip(sandbox)
    with pytest.raises(UserTestingUnavailableError, match="GENERATING"):
        archive_clip(client, store, test_id, session_id, clip, MediaOptions(polls=3), lambda s: None)
    assert store.list_keys("clips/") == []
    sandbox.remove_clip(session_id, clip)
    assert archive_clip(client, store, test_id, session_id, clip, wait=lambda s: None) is None

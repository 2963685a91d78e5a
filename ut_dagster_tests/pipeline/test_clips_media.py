"""Clip media archived byte-exact through links that expire: polled while GENERATING with growing
waits, streamed and checksummed, never downloaded twice, nothing left behind when no link works."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.sync.clips_media import (
    ClipMediaOptions,
    ClipMediaResult,
    MediaOptions,
    archive_clip,
    clip_media_key,
    sync_clip_media,
)
from dagster_usertesting.lib.sync.retries import RetryPolicy
from dagster_usertesting.lib.usertesting_api.errors import UserTestingUnavailableError
from dagster_usertesting.lib.usertesting_api.stats import RequestStats
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse
from dagster_usertesting.testing import THINK_OUT_LOUD, SandboxServer, StudySpec


def quiet(todo: int) -> SyncProgress:
    return SyncProgress(logging.getLogger("test"), "t", "clip_media", todo, RequestStats())


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


def test_a_sync_with_videos_archives_every_clip_and_reel_once_byte_exact(make_pipeline) -> None:
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 5),), clip_generating_polls=0)
    sandbox = pipeline.sandbox
    assert pipeline.sync() == 0
    assert "clip" not in sandbox.request_counts()  # opt-in: a plain sync asks for no media

    assert pipeline.sync(videos=True) == 0
    media = pipeline.table("clip_media")
    clips, reels = pipeline.table("clips"), pipeline.table("highlight_reels")
    assert len(clips) > 0 and len(reels) > 0
    assert set(media[media.media_kind == "clip"].media_id) == set(clips.clip_id)
    assert set(media[media.media_kind == "highlight_reel"].media_id) == set(reels.reel_id)
    for row in media.itertuples():
        data = Path(row.media_storage_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256 == sandbox.dataset.clip_sha256(row.media_id)
    asked = sandbox.request_counts()
    assert asked["clip"] == len(clips) and asked["highlight_reel"] == len(reels)

    assert pipeline.sync(videos=True) == 0  # archived: never asked or downloaded again
    again = sandbox.request_counts()
    assert (again["clip"], again["highlight_reel"]) == (asked["clip"], asked["highlight_reel"])
    assert (
        pipeline.table("clip_media")
        .sort_values("media_id")
        .reset_index(drop=True)
        .equals(media.sort_values("media_id").reset_index(drop=True))
    )


def test_media_never_ready_is_backed_off_not_asked_every_run(make_pipeline, sandbox_resource) -> None:
    pipeline = make_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 4),))
    sandbox = pipeline.sandbox
    assert pipeline.sync() == 0
    sandbox.configure(clip_generating_polls=1_000)  # UserTesting never finishes preparing any media
    test_id = TestId(sandbox.test_ids[0])
    client = sandbox_resource(sandbox, rate_limit_store=pipeline.settings.rate_limit_store).get_client()
    landing = Landing(LocalObjectStore(Path(pipeline.settings.object_store)))
    warehouse = DuckDBWarehouse(pipeline.settings.duckdb_path)
    options = ClipMediaOptions(RetryPolicy(), MediaOptions(polls=2))
    items = len(pipeline.table("clips")) + len(pipeline.table("highlight_reels"))

    def run(**changes: Any) -> ClipMediaResult:
        return sync_clip_media(
            test_id,
            client,
            landing,
            warehouse,
            replace(options, **changes),
            quiet,
            lambda: True,
            waits.append,
        )

    waits: list[float] = []
    first = run()
    assert waits == [2.0]  # one wait a round for every item still GENERATING, not one per item
    assert (len(first.failed_now), first.records, first.fatal) == (items, [], None)
    assert sandbox.request_counts()["clip"] + sandbox.request_counts()["highlight_reel"] == 2 * items
    asked = sum(sandbox.request_counts().values())
    second = run()  # at once: every item waits out its back-off, nothing is asked
    assert (second.waiting, sum(sandbox.request_counts().values())) == (items, asked)
    sandbox.configure(clip_generating_polls=0)
    third = run(retry_failed=True)
    assert third.downloaded == items and not third.failures

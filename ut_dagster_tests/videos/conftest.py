"""Video archiving end to end: sandbox API and video host -> Dagster runs (real instance) -> object store.

`make_video_pipeline` wires a sandbox, a Dagster instance, a real DuckDB file and an object store (a
local folder by default, or the `ObjectStoreResource` given: `s3_object_store`, a fresh bucket on the
moto server `moto_endpoint` starts on 127.0.0.1). `video_archive_view` gives the same assertions over
what the CLI synced in a subprocess. `transfer_gate` slows and can pause the video host's responses,
so a test can act while a download is in flight.
"""

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, Definitions, materialize

from dagster_usertesting.defs.assets import raw_sessions, session_videos
from dagster_usertesting.defs.partitions import add_tests
from dagster_usertesting.lib.object_store import ObjectStore, ObjectStoreResource
from dagster_usertesting.testing import SandboxServer
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings

MIB = 1 << 20
VIDEO_ASSET = AssetKey(["usertesting", "session_videos"])
CHECKSUM_CHECK = AssetCheckKey(VIDEO_ASSET, "archived_videos_match_checksums")
LINK_SUFFIX = "/videoDownloadUrl"


def sha256_of(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@dataclass
class VideoPipeline:
    sandbox: SandboxServer
    settings: Settings
    store: ObjectStore
    defs: Definitions | None = None  # None: a view over what another process synced
    instance: DagsterInstance | None = None

    def sync(self, test_ids: list[str] | None = None, **kwargs: Any) -> int:
        """What `ut-dagster sync --videos` does: the `usertesting_sync_with_videos` job per test."""
        assert self.defs is not None and self.instance is not None, "a view cannot run anything"
        return run_sync(
            test_ids or self.sandbox.test_ids, videos=True, defs=self.defs, instance=self.instance, **kwargs
        )

    def archive(
        self, test_ids: list[str] | None = None, full: bool = False, retry_failed: bool = False
    ) -> None:
        """Only the listing and the video archive, per test (a fraction of a whole sync's run time).

        `full`: download every video again, as `ut-dagster sync --videos --full` does; `retry_failed`:
        ask now for videos that failed, as `--retry-failed` does.
        """
        assert self.defs is not None and self.instance is not None, "a view cannot run anything"
        test_ids = add_tests(self.instance, test_ids or self.sandbox.test_ids)
        resources = self.defs.resources
        for test_id in test_ids:
            result = materialize(
                [raw_sessions.default, session_videos.default],
                partition_key=test_id,
                instance=self.instance,
                resources={
                    k: resources[k] for k in ("usertesting", "object_store", "io_manager", "sync_settings")
                },
                run_config={
                    "ops": {
                        "usertesting__session_videos": {
                            "config": {"full": full, "retry_failed": retry_failed}
                        }
                    }
                },
            )
            assert result.success

    def verify(self) -> Any:
        """Run the `usertesting_verify_videos` job; return the check's evaluation."""
        assert self.defs is not None and self.instance is not None, "a view cannot run anything"
        job = self.defs.resolve_job_def("usertesting_verify_videos")
        result = job.execute_in_process(instance=self.instance, raise_on_error=False)
        assert result.success, result.all_events
        evaluations = result.get_asset_check_evaluations()
        assert [e.asset_check_key for e in evaluations] == [CHECKSUM_CHECK]
        return evaluations[0]

    def table(self, test_id: str | None = None) -> pd.DataFrame:
        where = f" where test_id = '{test_id}'" if test_id else ""
        with duckdb.connect(str(self.settings.duckdb_path), read_only=True) as connection:
            return connection.sql(f"select * from usertesting.session_videos{where}").df()

    def link_requests(self) -> list[str]:
        """Session IDs of every videoDownloadUrl request the API served, in order."""
        return [r["path"].split("/")[-2] for r in self.sandbox.requests if r["path"].endswith(LINK_SUFFIX)]

    def video_requests(self) -> list[tuple[str, int | None]]:
        """(session ID, status) of every session-video request the video host served, in order (the
        same host serves clip and reel media, under /_clip/ and /_reel/)."""
        return [
            (r["path"].rsplit("/", 1)[1].removesuffix(".mp4"), r["status"])
            for r in self.sandbox.video_requests
            if r["path"].startswith("/_video/")
        ]

    def with_video(self, test_id: str) -> set[str]:
        dataset = self.sandbox.dataset
        return {s for s in dataset.session_ids(test_id) if dataset.video_size(s) is not None}

    def without_video(self, test_id: str) -> set[str]:
        return set(self.sandbox.dataset.session_ids(test_id)) - self.with_video(test_id)

    def video_keys(self, test_id: str) -> list[str]:
        return self.store.list_keys(f"videos/{test_id}")

    def record(self, test_id: str, session_id: str) -> dict | None:
        raw = self.store.get_bytes(f"videos/{test_id}/{session_id}.json")
        return None if raw is None else json.loads(raw)

    def assert_archived(self, test_id: str) -> None:
        """Every video of the test is in the store byte for byte, with a matching record and table row."""
        dataset = self.sandbox.dataset
        videos = self.with_video(test_id)
        rows = self.table(test_id).set_index("session_id")
        assert set(rows.index) == videos and rows.index.is_unique
        expected_keys = {f"videos/{test_id}/{s}.{ext}" for s in videos for ext in ("mp4", "json")}
        expected_keys |= {f"videos/{test_id}/{s}.none" for s in self.without_video(test_id)}
        assert set(self.video_keys(test_id)) == expected_keys
        for session_id in videos:
            key = f"videos/{test_id}/{session_id}.mp4"
            stored_sha, stored_size = sha256_of(self.store.iter_bytes(key))
            assert (stored_sha, stored_size) == (
                dataset.video_sha256(session_id),
                dataset.video_size(session_id),
            )
            record = self.record(test_id, session_id)
            assert record is not None
            assert (record["sha256"], record["size_bytes"]) == (stored_sha, stored_size)
            assert record["video_storage_path"] == self.store.uri(key)
            assert record["content_type"] == "video/mp4"
            row = rows.loc[session_id]
            assert (row.sha256, row.size_bytes, row.video_storage_path) == (
                stored_sha,
                stored_size,
                self.store.uri(key),
            )
            assert row.content_type == "video/mp4" and row.downloaded_at is not None


@pytest.fixture
def make_video_pipeline(tmp_path, start_sandbox, api_resource) -> Iterator[Callable[..., VideoPipeline]]:
    stack = ExitStack()

    def make(object_store: ObjectStoreResource | None = None, **sandbox_config: Any) -> VideoPipeline:
        sandbox = start_sandbox(**sandbox_config)
        settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data")})
        api = api_resource(sandbox, rate_limit_store=settings.rate_limit_store)
        overrides: dict[str, Any] = {"usertesting": api}
        if object_store is not None:
            overrides["object_store"] = object_store
        defs = build_definitions(settings, overrides)
        # In-memory instance storage, as in the pipeline tests (the kill test runs the CLI with a real
        # DAGSTER_HOME); entered as a context manager so Dagster's current-instance context variable
        # never points at another test's disposed instance.
        instance = stack.enter_context(DagsterInstance.ephemeral())
        store = (object_store or ObjectStoreResource(url=settings.object_store)).store()
        return VideoPipeline(sandbox, settings, store, defs, instance)

    with stack:
        yield make


@pytest.fixture
def video_archive_view() -> Callable[[SandboxServer, Settings], VideoPipeline]:
    """The assertions of a VideoPipeline over what another process (the CLI) synced into `settings`."""

    def view(sandbox: SandboxServer, settings: Settings) -> VideoPipeline:
        return VideoPipeline(sandbox, settings, ObjectStoreResource(url=settings.object_store).store())

    return view


@pytest.fixture
def s3_object_store(moto_endpoint: str) -> ObjectStoreResource:
    """An `ObjectStoreResource` for s3://<fresh bucket>/archive on the moto server, as UT_OBJECT_STORE gives it."""
    bucket = f"ut-videos-{uuid.uuid4().hex[:12]}"
    resource = ObjectStoreResource(
        url=f"s3://{bucket}/archive", endpoint_url=moto_endpoint, region_name="us-east-1"
    )
    resource.s3_client().create_bucket(Bucket=bucket)
    return resource


class TransferGate:
    """Wraps a sandbox's video bytes so a test can catch a download in flight.

    The first transfer of each session is slowed to `seconds_per_mib`. The `pause_transfer`-th first
    transfer (1 = the first video requested) stops `pause_after` bytes in until `release()` (or
    `max_pause` seconds); `paused` is set meanwhile and `paused_session` says which video it is.
    """

    def __init__(
        self,
        sandbox: SandboxServer,
        seconds_per_mib: float = 0.0,
        pause_after: int | None = None,
        pause_transfer: int = 1,
        max_pause: float = 60.0,
    ) -> None:
        self._original = sandbox.dataset.video_chunks
        self._seconds_per_mib = seconds_per_mib
        self._pause_after = pause_after
        self._pause_transfer = pause_transfer
        self._max_pause = max_pause
        self._lock = threading.Lock()
        self._started: list[str] = []
        self.paused = threading.Event()
        self.paused_session: str | None = None
        self._released = threading.Event()
        sandbox.dataset.video_chunks = self._chunks  # type: ignore[method-assign]

    def release(self) -> None:
        self._released.set()

    def _chunks(self, session_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with self._lock:
            first = session_id not in self._started
            if first:
                self._started.append(session_id)
            pause = first and self._pause_after is not None and len(self._started) == self._pause_transfer
            if pause:
                self.paused_session = session_id
        sent = 0
        for chunk in self._original(session_id, start, end):
            if first and self._seconds_per_mib:
                time.sleep(self._seconds_per_mib * len(chunk) / MIB)
            if pause and sent + len(chunk) > (self._pause_after or 0):
                pause = False
                self.paused.set()
                self._released.wait(self._max_pause)
            yield chunk
            sent += len(chunk)


@pytest.fixture
def transfer_gate() -> Iterator[Callable[..., TransferGate]]:
    gates: list[TransferGate] = []

    def install(sandbox: SandboxServer, **kwargs: Any) -> TransferGate:
        gate = TransferGate(sandbox, **kwargs)
        gates.append(gate)
        return gate

    yield install
    for gate in gates:
        gate.release()  # never leave a sandbox handler thread waiting

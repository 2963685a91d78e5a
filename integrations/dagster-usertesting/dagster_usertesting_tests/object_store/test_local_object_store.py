"""LocalObjectStore: atomic writes, streaming checksums, listing, and refusal of hostile keys."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagster_usertesting.lib.object_store import (
    InvalidKeyError,
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    ObjectStoreResource,
    StoredObject,
    object_store_from_url,
)

KEY = "raw/3fa85f64-5717-4562-b3fc-2c963f66afa6/sessions/page-0001.json"


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "store")


class Boom(RuntimeError):
    pass


def _failing_stream(good_chunks: int) -> Iterator[bytes]:
    for _ in range(good_chunks):
        yield b"x" * 1000
    raise Boom("connection reset while downloading")


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_put_get_exists_delete_roundtrip(store: LocalObjectStore) -> None:
    assert isinstance(store, ObjectStore)
    assert store.get_bytes(KEY) is None and not store.exists(KEY)
    store.put_bytes(KEY, b'{"a": 1}', content_type="application/json")
    assert store.get_bytes(KEY) == b'{"a": 1}' and store.exists(KEY)
    store.put_bytes(KEY, b"{}")  # overwrite
    assert store.get_bytes(KEY) == b"{}"
    assert store.uri(KEY) == str(store.root / KEY)
    store.delete(KEY)
    store.delete(KEY)  # idempotent
    assert store.get_bytes(KEY) is None
    assert _all_files(store.root) == []


def test_list_keys_is_recursive_sorted_and_folder_scoped(store: LocalObjectStore) -> None:
    for key in ["raw/t-1/b.json", "raw/t-1/a/c.vtt", "raw/t-10/a.json", "videos/t-1/s.mp4", "top.txt"]:
        store.put_bytes(key, b"1")
    assert store.list_keys("raw/t-1") == ["raw/t-1/a/c.vtt", "raw/t-1/b.json"]
    assert store.list_keys("raw/t-1/") == ["raw/t-1/a/c.vtt", "raw/t-1/b.json"]
    assert store.list_keys("raw") == ["raw/t-1/a/c.vtt", "raw/t-1/b.json", "raw/t-10/a.json"]
    assert store.list_keys("") == sorted(
        ["raw/t-1/a/c.vtt", "raw/t-1/b.json", "raw/t-10/a.json", "top.txt", "videos/t-1/s.mp4"]
    )
    assert store.list_keys("missing") == []


def test_put_stream_reports_size_and_sha256(store: LocalObjectStore) -> None:
    chunks = [os.urandom(1 << 16) for _ in range(20)] + [b"", b"tail"]
    stored = store.put_stream("videos/v.mp4", iter(chunks), content_type="video/mp4")
    data = b"".join(chunks)
    assert stored == StoredObject(
        key="videos/v.mp4",
        uri=store.uri("videos/v.mp4"),
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="video/mp4",
    )
    assert store.get_bytes("videos/v.mp4") == data
    verified = hashlib.sha256()
    for chunk in store.iter_bytes("videos/v.mp4", chunk_size=4096):
        assert len(chunk) <= 4096
        verified.update(chunk)
    assert verified.hexdigest() == stored.sha256


def test_failed_stream_leaves_nothing_and_keeps_previous_object(store: LocalObjectStore) -> None:
    with pytest.raises(Boom):
        store.put_stream("videos/new.mp4", _failing_stream(50))
    assert not store.exists("videos/new.mp4")
    assert store.list_keys("") == []
    assert _all_files(store.root) == []  # no temp file left behind either

    store.put_bytes("videos/old.mp4", b"previous")
    with pytest.raises(Boom):
        store.put_stream("videos/old.mp4", _failing_stream(3))
    assert store.get_bytes("videos/old.mp4") == b"previous"
    assert _all_files(store.root) == ["videos/old.mp4"]


def test_write_in_progress_is_invisible(store: LocalObjectStore) -> None:
    seen: list[list[str]] = []

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        seen.append(store.list_keys(""))  # the temp file exists now, but is not a key
        seen.append([str(store.exists("v/x.mp4")), repr(store.get_bytes("v/x.mp4"))])
        yield b" rest"

    store.put_stream("v/x.mp4", chunks())
    assert seen == [[], ["False", "None"]]
    assert store.get_bytes("v/x.mp4") == b"partial rest"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "raw/../../outside",
        "raw/./x",
        "raw//x",
        "raw/x/",
        "raw\\x",
        "C:/x",
        "raw/.hidden",
        "raw/.tmp-x.123",
        "raw/x\x00y",
        "raw/x\ny",
        None,
        "a" * 1000,
    ],
)
def test_hostile_keys_are_refused(store: LocalObjectStore, key: object) -> None:
    for call in (
        lambda: store.put_bytes(key, b"x"),  # type: ignore[arg-type]
        lambda: store.get_bytes(key),  # type: ignore[arg-type]
        lambda: store.exists(key),  # type: ignore[arg-type]
        lambda: store.delete(key),  # type: ignore[arg-type]
        lambda: store.uri(key),  # type: ignore[arg-type]
        lambda: store.put_stream(key, [b"x"]),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidKeyError):
            call()
    assert not (store.root.parent / "outside").exists()


def test_hostile_prefixes_are_refused(store: LocalObjectStore) -> None:
    for prefix in ["/", "../", "raw/../..", "raw//"]:
        with pytest.raises(InvalidKeyError):
            store.list_keys(prefix)


def test_iter_bytes_of_missing_object_raises(store: LocalObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.iter_bytes("nope/x")
    store.put_bytes("dir/x", b"1")
    assert store.get_bytes("dir") is None and not store.exists("dir")  # a folder is not an object


def test_factory_and_resource_pick_local_store(tmp_path: Path) -> None:
    assert object_store_from_url(str(tmp_path)).root == tmp_path  # type: ignore[attr-defined]
    assert object_store_from_url(f"file://{tmp_path}").root == tmp_path  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unsupported"):
        object_store_from_url("gs://bucket/x")
    with pytest.raises(ValueError, match="empty"):
        object_store_from_url(" ")
    resource = ObjectStoreResource(url=str(tmp_path / "data"))
    store = resource.store()
    assert store is resource.store()
    store.put_bytes("a/b.json", b"{}")
    assert (tmp_path / "data" / "a" / "b.json").read_bytes() == b"{}"

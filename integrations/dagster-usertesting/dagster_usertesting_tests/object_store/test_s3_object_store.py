"""S3ObjectStore against a moto server started on 127.0.0.1 (a real HTTP endpoint, like MinIO)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from dagster_usertesting.lib.object_store import InvalidKeyError, ObjectNotFoundError, ObjectStoreResource
from dagster_usertesting.lib.object_store.s3 import MIN_PART_SIZE, S3ObjectStore

MIB = 1 << 20


@pytest.fixture
def endpoint_url(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture
def bucket_url(endpoint_url: str) -> tuple[str, Any]:
    """A fresh bucket per test; returns its s3:// URL (with a prefix) and a raw client."""
    resource = ObjectStoreResource(url="s3://unused", endpoint_url=endpoint_url, region_name="us-east-1")
    client = resource.s3_client()
    bucket = f"ut-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/landing/zone", client


def _store(endpoint_url: str, url: str, part_size: int = MIN_PART_SIZE) -> S3ObjectStore:
    store = ObjectStoreResource(url=url, endpoint_url=endpoint_url, region_name="us-east-1").store()
    assert isinstance(store, S3ObjectStore)
    return S3ObjectStore(store.client, store.bucket, store.prefix, part_size=part_size)


def _stream(total: int, chunk: int, fail_after: int | None = None) -> Iterator[bytes]:
    sent = 0
    counter = 0
    while sent < total:
        if fail_after is not None and sent >= fail_after:
            raise ConnectionError("video host closed the connection")
        size = min(chunk, total - sent)
        # Cheap, non-repeating content so misordered parts would change the checksum.
        yield counter.to_bytes(8, "big") * (size // 8) + b"\0" * (size % 8)
        sent += size
        counter += 1


def _sha256(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def test_put_get_list_delete(endpoint_url: str, bucket_url: tuple[str, Any]) -> None:
    url, client = bucket_url
    store = _store(endpoint_url, url)
    bucket = url.split("/")[2]
    key = "raw/t-1/sessions/page-0001.json"
    assert store.get_bytes(key) is None and not store.exists(key)
    store.put_bytes(key, b'{"a": 1}', content_type="application/json")
    assert store.get_bytes(key) == b'{"a": 1}' and store.exists(key)
    assert store.uri(key) == f"s3://{bucket}/landing/zone/{key}"
    head = client.head_object(Bucket=bucket, Key=f"landing/zone/{key}")
    assert head["ContentType"] == "application/json"

    for other in ["raw/t-1/a/c.vtt", "raw/t-10/a.json", "videos/t-1/s.mp4"]:
        store.put_bytes(other, b"1")
    client.put_object(Bucket=bucket, Key="elsewhere/raw/t-1/x", Body=b"outside the store prefix")
    assert store.list_keys("raw/t-1") == ["raw/t-1/a/c.vtt", key]
    assert store.list_keys("") == sorted(["raw/t-1/a/c.vtt", key, "raw/t-10/a.json", "videos/t-1/s.mp4"])

    store.delete(key)
    store.delete(key)  # idempotent
    assert store.get_bytes(key) is None
    with pytest.raises(ObjectNotFoundError):
        store.iter_bytes(key)
    with pytest.raises(InvalidKeyError):
        store.put_bytes("../escape", b"x")


def test_multipart_stream_of_20_mib(endpoint_url: str, bucket_url: tuple[str, Any]) -> None:
    url, client = bucket_url
    store = _store(endpoint_url, url, part_size=5 * MIB)
    stored = store.put_stream("videos/t-1/s-1.mp4", _stream(20 * MIB + 123, MIB), content_type="video/mp4")
    expected_sha, expected_size = _sha256(_stream(20 * MIB + 123, MIB))
    assert (stored.sha256, stored.size_bytes, stored.content_type) == (
        expected_sha,
        expected_size,
        "video/mp4",
    )
    assert stored.uri == store.uri("videos/t-1/s-1.mp4")

    head = client.head_object(Bucket=store.bucket, Key=f"{store.prefix}/videos/t-1/s-1.mp4")
    assert head["ContentLength"] == expected_size
    assert head["ETag"].strip('"').endswith("-5")  # 4 parts of 5 MiB + the 123-byte tail
    assert _sha256(store.iter_bytes("videos/t-1/s-1.mp4")) == (expected_sha, expected_size)


def test_small_stream_is_a_single_put(endpoint_url: str, bucket_url: tuple[str, Any]) -> None:
    url, client = bucket_url
    store = _store(endpoint_url, url)
    chunks = [b"WEBVTT\n\n", b"00:00.000 --> 00:01.000\nhi\n"]
    stored = store.put_stream("raw/t-1/x.vtt", iter(chunks))
    assert stored.size_bytes == len(b"".join(chunks)) and store.get_bytes("raw/t-1/x.vtt") == b"".join(chunks)
    head = client.head_object(Bucket=store.bucket, Key=f"{store.prefix}/raw/t-1/x.vtt")
    assert "-" not in head["ETag"]
    empty = store.put_stream("raw/t-1/empty", iter([]))
    assert empty.size_bytes == 0 and store.get_bytes("raw/t-1/empty") == b""


def test_failed_stream_leaves_no_object_and_no_upload(endpoint_url: str, bucket_url: tuple[str, Any]) -> None:
    url, client = bucket_url
    store = _store(endpoint_url, url, part_size=5 * MIB)
    store.put_bytes("videos/t-1/s-1.mp4", b"previous")
    with pytest.raises(ConnectionError):
        store.put_stream("videos/t-1/s-1.mp4", _stream(20 * MIB, MIB, fail_after=12 * MIB))
    with pytest.raises(ConnectionError):
        store.put_stream("videos/t-1/s-2.mp4", _stream(20 * MIB, MIB, fail_after=12 * MIB))
    assert store.get_bytes("videos/t-1/s-1.mp4") == b"previous"
    assert not store.exists("videos/t-1/s-2.mp4")
    assert store.list_keys("videos") == ["videos/t-1/s-1.mp4"]
    assert client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


def test_upload_left_by_a_killed_process_is_aborted_by_the_next_write(
    endpoint_url: str, bucket_url: tuple[str, Any]
) -> None:
    url, client = bucket_url
    store = _store(endpoint_url, url, part_size=5 * MIB)
    key = store._key("videos/t-1/s-3.mp4")
    client.create_multipart_upload(Bucket=store.bucket, Key=key)  # as a SIGKILLed upload leaves it
    client.create_multipart_upload(Bucket=store.bucket, Key=key + ".other")  # another key: kept

    store.put_stream("videos/t-1/s-3.mp4", _stream(6 * MIB, MIB))

    left = [u["Key"] for u in client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])]
    assert left == [key + ".other"]


def test_part_size_below_s3_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        S3ObjectStore(client=None, bucket="b", part_size=MIB)


def test_factory_parses_bucket_and_prefix() -> None:
    from dagster_usertesting.lib.object_store import object_store_from_url

    store = object_store_from_url("s3://my-bucket/a/b/", s3_client_factory=lambda: "client")
    assert isinstance(store, S3ObjectStore)
    assert (store.client, store.bucket, store.prefix) == ("client", "my-bucket", "a/b")
    assert store.uri("k/v.json") == "s3://my-bucket/a/b/k/v.json"
    bare = object_store_from_url("s3://my-bucket", s3_client_factory=lambda: "client")
    assert bare.uri("k") == "s3://my-bucket/k"

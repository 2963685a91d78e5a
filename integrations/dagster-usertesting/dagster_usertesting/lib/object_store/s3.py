"""Object store in an S3 bucket (AWS, or MinIO / moto through an endpoint URL).

S3 writes are atomic by nature: an object appears only when put_object or
complete_multipart_upload succeeds. Streams are sent as a multipart upload so memory stays at one
part; a stream that fails is aborted so no unfinished upload (billed storage) is left behind.

The only module that touches boto3 / dagster-aws, and only inside functions:
`import dagster_aws.s3` takes ~4 s.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from dagster_usertesting.lib.object_store.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectNotFoundError,
    StoredObject,
    validate_key,
    validate_prefix,
)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


def _error_code(error: Exception) -> str | None:
    # botocore's ClientError carries the S3 error code here; reading it this way avoids importing
    # botocore at module load.
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def make_s3_client(
    region_name: str | None = None, endpoint_url: str | None = None, max_attempts: int = 5
) -> Any:
    """A boto3 S3 client built by dagster-aws's S3Resource; credentials from the standard AWS chain."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(
        region_name=region_name, endpoint_url=endpoint_url, max_attempts=max_attempts
    ).get_client()


class S3ObjectStore:
    def __init__(
        self, client: Any, bucket: str, prefix: str = "", part_size: int = DEFAULT_PART_SIZE
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"invalid S3 bucket name {bucket!r}")
        if part_size < MIN_PART_SIZE:
            raise ValueError(
                f"part_size must be at least {MIN_PART_SIZE} bytes (S3 minimum), got {part_size}"
            )
        self.client = client
        self.bucket = bucket
        self.prefix = validate_prefix(prefix)
        self.part_size = part_size

    def __repr__(self) -> str:
        return f"S3ObjectStore({self._root_uri!r})"

    @property
    def _root_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as error:
            if _error_code(error) in _MISSING_CODES:
                return None
            raise
        with response["Body"] as body:
            return body.read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as error:
            if _error_code(error) in _MISSING_CODES:
                return False
            raise
        return True

    def iter_bytes(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as error:
            if _error_code(error) in _MISSING_CODES:
                raise ObjectNotFoundError(f"no object at {self.uri(key)}") from None
            raise
        return self._read_chunks(response["Body"], chunk_size)

    @staticmethod
    def _read_chunks(body: Any, chunk_size: int) -> Iterator[bytes]:
        with body:
            yield from body.iter_chunks(chunk_size)

    def list_keys(self, prefix: str = "") -> list[str]:
        folder = validate_prefix(prefix)
        # A folder prefix ends with '/' so 'raw/test-1' does not also list 'raw/test-10/...'.
        full = "/".join(p for p in (self.prefix, folder) if p)
        full = f"{full}/" if full else ""
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            strip = len(self.prefix) + 1 if self.prefix else 0
            keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str | None = None) -> StoredObject:
        s3_key = self._key(key)
        self._abort_unfinished_uploads(s3_key)
        extra = {"ContentType": content_type} if content_type else {}
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                if len(buffer) >= self._part_size_for(len(parts) + 1):
                    if upload_id is None:
                        created = self.client.create_multipart_upload(Bucket=self.bucket, Key=s3_key, **extra)
                        upload_id = created["UploadId"]
                    parts.append(self._upload_part(s3_key, upload_id, len(parts) + 1, buffer))
                    buffer = bytearray()
            if upload_id is None:
                # Smaller than one part: a single put_object, which is atomic on its own.
                self.client.put_object(Bucket=self.bucket, Key=s3_key, Body=bytes(buffer), **extra)
            else:
                if buffer:
                    parts.append(self._upload_part(s3_key, upload_id, len(parts) + 1, buffer))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=s3_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            if upload_id is not None:
                # Keep the stream's own error for the caller; if the abort fails too, a bucket
                # lifecycle rule (AbortIncompleteMultipartUpload) is the backstop.
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=s3_key, UploadId=upload_id)
            raise
        return StoredObject(key, self.uri(key), size, digest.hexdigest(), content_type)

    def _abort_unfinished_uploads(self, s3_key: str) -> None:
        """Abort uploads of this key left unfinished by a killed process (they are billed storage)."""
        listed = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=s3_key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == s3_key:
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=s3_key, UploadId=upload["UploadId"]
                    )

    def _part_size_for(self, part_number: int) -> int:
        # S3 allows 10,000 parts. Growing the part size every 1,000 parts lifts the limit from
        # 10,000 x part_size (80 GB at 8 MiB) to 55,000 x part_size without knowing the length upfront.
        if part_number > MAX_PARTS:
            raise ValueError(f"stream too large for a multipart upload of {MAX_PARTS} parts")
        return self.part_size * (1 + (part_number - 1) // 1000)

    def _upload_part(self, s3_key: str, upload_id: str, number: int, data: bytearray) -> dict[str, Any]:
        response = self.client.upload_part(
            Bucket=self.bucket, Key=s3_key, UploadId=upload_id, PartNumber=number, Body=bytes(data)
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

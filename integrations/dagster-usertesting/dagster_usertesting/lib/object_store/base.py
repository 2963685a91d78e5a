"""The object store interface shared by the local folder and S3 backends, and key validation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DEFAULT_CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    """What was committed by `put_stream`: where it is and what was written."""

    key: str
    uri: str
    size_bytes: int
    sha256: str  # hex digest of exactly the bytes stored
    content_type: str | None


class InvalidKeyError(ValueError):
    """A key that is not a relative, '/'-separated path of plain names."""


class ObjectNotFoundError(FileNotFoundError):
    """`iter_bytes` on a key that holds no object."""


@runtime_checkable
class ObjectStore(Protocol):
    """Keys are relative '/'-separated paths; writes are atomic (readers see all or nothing)."""

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no object at `key`."""
        ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str = "") -> list[str]:
        """Sorted keys of every object under the folder `prefix` ('' for all), recursively."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone."""
        ...

    def uri(self, key: str) -> str:
        """Where users find the object: a file path or s3://bucket/prefix/key."""
        ...

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str | None = None) -> StoredObject:
        """Store the concatenated chunks in constant memory, hashing while streaming.

        Atomic: if `chunks` raises, nothing is left at `key` (a previous object there is kept).
        """
        ...

    def iter_bytes(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The object's bytes in chunks; raises ObjectNotFoundError when missing."""
        ...


# Plain names only: no leading dot (which also rules out '.', '..' and the local store's
# '.tmp-' files), no control characters, no backslash or colon (Windows paths, drive letters).
_PART = re.compile(r"^[^./\\:\x00-\x1f\x7f][^/\\:\x00-\x1f\x7f]*$")
MAX_KEY_LENGTH = 900  # S3 allows 1024 bytes including the store's prefix


def validate_key(key: object) -> str:
    """Return `key` if it is a safe relative key, else raise InvalidKeyError.

    Callers build keys from validated UUIDs; this is defence in depth against path traversal.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"object key must be a non-empty string, got {key!r}")
    if len(key.encode()) > MAX_KEY_LENGTH:
        raise InvalidKeyError(f"object key is longer than {MAX_KEY_LENGTH} bytes: {key[:60]!r}...")
    if key.startswith("/"):
        raise InvalidKeyError(f"object key must be relative, got {key!r}")
    for part in key.split("/"):
        if not part:
            raise InvalidKeyError(f"object key has an empty part ('//' or a trailing '/'): {key!r}")
        if not _PART.match(part):
            raise InvalidKeyError(
                f"object key part {part!r} of {key!r} is not allowed: no '.', '..', names starting "
                "with '.', backslashes, colons or control characters"
            )
    return key


def validate_prefix(prefix: str) -> str:
    """A folder prefix for list_keys: '' (everything) or a valid key, with or without one trailing '/'."""
    if prefix == "":
        return ""
    return validate_key(prefix[:-1] if prefix.endswith("/") else prefix)

"""Object store in a local folder: the default for the raw landing area and archived videos.

Every write goes to a temporary file in the destination folder, is fsynced, then renamed over the
key with os.replace (atomic on POSIX and Windows within one filesystem), and the folder is fsynced
so the rename survives a power cut. Readers therefore see the old object or the new one, never a
partial file. Temporary files start with '.tmp-', a name keys can never have.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from dagster_usertesting.lib.object_store.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectNotFoundError,
    StoredObject,
    validate_key,
    validate_prefix,
)

_TMP_PREFIX = ".tmp-"


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes a rename or new entry durable; Windows cannot open directories.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalObjectStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _make_parent(self, path: Path) -> None:
        # Create missing folders and fsync each new folder's parent, so the new entries are durable.
        missing = []
        folder = path.parent
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        if not missing:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            _fsync_dir(created.parent)

    @contextlib.contextmanager
    def _atomic_file(self, key: str) -> Iterator[tuple[BinaryIO, Path]]:
        """A temp file next to `key`'s path; renamed over it on success, removed on any failure."""
        path = self._path(key)
        self._make_parent(path)
        # A process killed mid-write (SIGKILL, OOM) leaves its temp file behind; the next write of
        # the same key cleans up, so a big interrupted video does not stay on disk forever.
        for stale in path.parent.glob(f"{_TMP_PREFIX}{path.name}.*"):
            stale.unlink(missing_ok=True)
        tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{uuid.uuid4().hex}")
        try:
            with open(tmp, "xb") as handle:
                yield handle, path
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with self._atomic_file(key) as (handle, _):
            handle.write(data)

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str | None = None) -> StoredObject:
        digest = hashlib.sha256()
        size = 0
        with self._atomic_file(key) as (handle, _):
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        return StoredObject(key, self.uri(key), size, digest.hexdigest(), content_type)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def iter_bytes(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(f"no object at {path}") from None
        return self._read_chunks(handle, chunk_size)

    @staticmethod
    def _read_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def list_keys(self, prefix: str = "") -> list[str]:
        prefix = validate_prefix(prefix)
        top = self.root.joinpath(*prefix.split("/")) if prefix else self.root
        if not top.is_dir():
            return []
        keys = []
        for folder, _, files in os.walk(top):
            relative = Path(folder).relative_to(self.root).as_posix()
            for name in files:
                if not name.startswith("."):  # temp files of writes in progress
                    keys.append(name if relative == "." else f"{relative}/{name}")
        return sorted(keys)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return
        _fsync_dir(path.parent)

    def uri(self, key: str) -> str:
        return str(self._path(key))

"""Pick the object store backend from a URL: s3://bucket/prefix, or a folder path."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagster_usertesting.lib.object_store.base import ObjectStore
from dagster_usertesting.lib.object_store.local import LocalObjectStore

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def object_store_from_url(url: str, s3_client_factory: Callable[[], Any] | None = None) -> ObjectStore:
    """`s3://bucket/prefix` -> S3ObjectStore (client from `s3_client_factory`, default: dagster-aws's
    S3Resource with the standard AWS credential chain); `file:///path` or a plain path -> LocalObjectStore.
    """
    if not url or not url.strip():
        raise ValueError("object store URL is empty: give a folder path or s3://bucket/prefix")
    url = url.strip()
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else None
    if scheme == "s3":
        # Imported here: the S3 module pulls in boto3 / dagster-aws only when S3 is used.
        from dagster_usertesting.lib.object_store.s3 import S3ObjectStore, make_s3_client

        bucket, _, prefix = url[len("s3://") :].partition("/")
        client = (s3_client_factory or make_s3_client)()
        return S3ObjectStore(client, bucket, prefix.strip("/"))
    if scheme == "file":
        return LocalObjectStore(Path(url[len("file://") :]))
    if scheme is not None:
        raise ValueError(f"unsupported object store URL {url!r}: use a folder path or s3://bucket/prefix")
    return LocalObjectStore(Path(url))

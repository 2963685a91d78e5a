"""Session videos: deterministic bytes made on the fly, S3-style pre-signed links, and the store.

A video is an MP4 skeleton (an `ftyp` box and a 64-bit `mdat` header) followed by pseudo-random bytes.
Each 64 KiB block starts with its own index, so bytes written at the wrong offset change the checksum.
Memory stays at one 1 MiB pattern per response, whatever the size (several GB are fine).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .responses import Request, Response

if TYPE_CHECKING:
    from .config import SandboxConfig
    from .data import Dataset

_VIDEO_PATH = re.compile(r"^/_video/([0-9a-f-]{36})\.mp4$")
BLOCK = 64 * 1024
_PATTERN = 16 * BLOCK
_FTYP = struct.pack(">I", 24) + b"ftypmp42" + b"\x00\x00\x00\x00" + b"mp42isom"


def _header(size: int) -> bytes:
    return _FTYP + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", max(0, size - len(_FTYP)))


def video_chunks(
    seed: int, session_id: str, size: int, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Bytes [start, end) of a session's video (end defaults to the size), in chunks of at most 64 KiB."""
    end = size if end is None else min(end, size)
    if start >= end:
        return
    pattern = hashlib.shake_128(f"{seed}:video:{session_id}".encode()).digest(_PATTERN)
    header = _header(size)
    position = start
    while position < end:
        index, offset = divmod(position, BLOCK)
        base = (index * BLOCK) % _PATTERN
        block = struct.pack(">Q", index) + pattern[base + 8 : base + BLOCK]
        if index == 0:
            block = header[:BLOCK] + block[len(header) :]
        piece = block[offset : offset + (end - position)]
        yield piece
        position += len(piece)


def video_sha256(seed: int, session_id: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in video_chunks(seed, session_id, size):
        digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Link:
    session_id: str
    expires_at: float  # time.monotonic()
    expires_wall: datetime


class VideoLinks:
    """Issues and checks pre-signed links.

    Expiry is kept server-side with monotonic precision, because X-Amz-Date has whole seconds and the
    tests use sub-second lifetimes; the query string still looks like a real pre-signed S3 URL.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: dict[str, _Link] = {}

    def issue(self, base_url: str, session_id: str, lifetime: float) -> tuple[str, datetime]:
        now = datetime.now(UTC)
        signature = secrets.token_hex(32)
        expires_wall = now + timedelta(seconds=lifetime)
        with self._lock:
            self._links[signature] = _Link(session_id, time.monotonic() + lifetime, expires_wall)
        query = urlencode(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Credential": f"AKIASANDBOXEXAMPLE/{now:%Y%m%d}/us-east-2/s3/aws4_request",
                "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
                "X-Amz-Expires": str(max(0, round(lifetime))),
                "X-Amz-SignedHeaders": "host",
                "X-Amz-Signature": signature,
            }
        )
        return f"{base_url}/_video/{session_id}.mp4?{query}", expires_wall

    def check(self, session_id: str, signature: str | None) -> tuple[str, str] | None:
        """None when the link is good, else the S3 error (code, message) to answer with 403."""
        with self._lock:
            link = self._links.get(signature or "")
        if link is None or link.session_id != session_id:
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        if time.monotonic() >= link.expires_at:
            return "AccessDenied", "Request has expired"
        return None


class VideoStore:
    """The S3 bucket the links point at: GET only, no bearer token, no rate limit, no Range."""

    def __init__(self, config: SandboxConfig, dataset: Dataset, links: VideoLinks) -> None:
        self._config = config
        self._dataset = dataset
        self._links = links
        self._lock = threading.Lock()
        self._dropped: set[str] = set()

    def serve(self, request: Request) -> Response:
        match = _VIDEO_PATH.match(request.path)
        if request.method != "GET" or not match:
            return _s3_error(403, "AccessDenied", "Access Denied")
        session_id = match[1]
        problem = self._links.check(session_id, request.query.get("X-Amz-Signature", [""])[-1])
        if problem:
            return _s3_error(403, *problem)
        size = self._dataset.video_size(session_id)
        if size is None:  # the session was deleted since the link was issued
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        chunks = self._dataset.video_chunks(session_id)
        response = Response(200, [("Content-Type", "video/mp4")], chunks, length=size)
        drop_after = self._config.video_drop_after_bytes
        with self._lock:
            first_try = session_id not in self._dropped
        if drop_after is not None and first_try and drop_after < size:
            # The first download of each video breaks off: a client must retry from the start.
            response.drop_after = drop_after
            response.on_drop = lambda: self._mark_dropped(session_id)
        return response

    def _mark_dropped(self, session_id: str) -> None:
        with self._lock:
            self._dropped.add(session_id)


def _s3_error(status: int, code: str, message: str) -> Response:
    request_id = secrets.token_hex(8).upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>sandbox</HostId></Error>"
    )
    return Response(status, [("Content-Type", "application/xml")], body.encode())

"""Session videos: deterministic bytes made on the fly, and S3-style pre-signed links to them.

A video is an MP4 skeleton (an `ftyp` box and a 64-bit `mdat` header) followed by pseudo-random bytes.
Each 64 KiB block starts with its own index, so a resumed or reassembled download that lands on the
wrong offset changes the checksum. Any byte range is produced without producing what comes before it,
and memory stays at one 1 MiB pattern per response, whatever the size (several GB are fine).
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

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


def _amz_date(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


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
                "X-Amz-Date": _amz_date(now),
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


def s3_error(code: str, message: str) -> bytes:
    request_id = secrets.token_hex(8).upper()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>sandbox</HostId></Error>"
    ).encode()


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """Byte range [start, end) from a Range header; None for the whole file; "invalid" for a 416.

    Like S3: one range only (a multi-range request gets the whole file), suffix ranges allowed.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].strip().partition("-")
    try:
        if not first:
            count = int(last)
            return (max(0, size - count), size) if count > 0 and size else "invalid"
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or end <= start:
        return "invalid"
    return start, min(end, size)

"""The sandbox as a function from request to response, independent of the HTTP plumbing.

Three hosts share one port: the OAuth2 token endpoint (not rate limited, no injected faults, logged
as kind "token"), the video store under /_video/ (S3-like: no bearer token, no rate limit, no injected
faults, kind "video"), and the API (everything else, kind "api").

API pipeline: bearer token (401 costs nothing) -> rate limit (every counted request, 429s included,
see ratelimit.py) -> injected fault (error_rate; after the budget is spent, as a failing upstream
would be) -> latency -> route. Rate-limit headers go on every API response except the gateway's
HTML 502/503 and dropped connections, which a client must survive without them.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from collections import Counter
from hashlib import md5
from random import Random
from typing import Any

from .admin import ADMIN_PREFIX, Admin
from .auth import Tokens
from .config import LEGACY_TOKEN_PATH, TOKEN_PATH, SandboxConfig
from .data import Dataset
from .legacy import build_workspaces
from .ratelimit import RateLimiter
from .responses import API_HEADERS, Request, Response, error_for, gateway_error, nest_error
from .routes import ApiRoutes, endpoint_of
from .video import VideoLinks, parse_range, s3_error

_VIDEO_PATH = re.compile(r"^/_video/([0-9a-f-]{36})\.mp4$")


class SandboxApp:
    def __init__(self, config: SandboxConfig, dataset: Dataset) -> None:
        self.config = config
        self.dataset = dataset
        self.base_url = ""
        self.tokens = Tokens(config)
        self.limiter = RateLimiter()
        self.links = VideoLinks()
        workspaces = build_workspaces(dataset, config.legacy_studies)
        self.routes = ApiRoutes(config, dataset, self.links, workspaces, lambda: self.base_url)
        self._lock = threading.Lock()
        self._faults = Random(f"{config.seed}:faults")
        self._log: list[dict[str, Any]] = []
        self._dropped_videos: set[str] = set()
        self.server_errors: list[str] = []
        self.admin = Admin(self)

    def log(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._log if kind is None or r["kind"] == kind]

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    def request_counts(self, kind: str | None = "api") -> dict[str, int]:
        """Requests served so far per endpoint (named as the client's RequestStats names them)."""
        return dict(Counter(r["endpoint"] for r in self.log(kind)))

    def reset(self) -> None:
        """As freshly started: generated data, no revocations, empty request log, fresh rate windows.
        Issued tokens stay valid."""
        self.dataset.reset()
        self.limiter.reset()
        self.reset_log()

    def handle(self, request: Request) -> Response:
        arrived = time.monotonic()
        credential = None
        if request.path in (TOKEN_PATH, LEGACY_TOKEN_PATH):
            kind, response = "token", self.tokens.token_endpoint(request)
        elif request.path.startswith("/_video/"):
            kind, response = "video", self._video(request)
        elif request.path.startswith(ADMIN_PREFIX):
            return self.admin.handle(request)  # not logged: tests count API calls, not their own
        else:
            kind = "api"
            credential = self.tokens.credential_for(request)
            response = self._api(request, credential)
        record: dict[str, Any] = {
            "kind": kind,
            "endpoint": kind if kind != "api" else endpoint_of(request.path),
            "method": request.method,
            "path": request.path,
            "query": {k: v[0] if len(v) == 1 else list(v) for k, v in request.query.items()},
            "status": None if response.drop else response.status,
            "time": arrived,
            "credential": credential,
        }
        with self._lock:
            self._log.append(record)
        return response

    def _fault(self) -> int | str | None:
        rate = self.config.error_rate
        if rate <= 0:
            return None
        with self._lock:
            if self._faults.random() >= rate:
                return None
            return self._faults.choice((500, 502, 503, "drop"))

    def _api(self, request: Request, credential: str | None) -> Response:
        config = self.config
        limit, window = config.requests_per_window, config.window_seconds
        if credential is None:
            response = error_for(request.path, 401, "Unauthorized")
            response.headers += [*API_HEADERS, *RateLimiter.fresh(limit, window).headers()]
            return response
        state = self.limiter.hit(credential, limit, window)
        if not state.allowed:
            message = f"Too Many Requests: rate limit of {limit} requests per {window:g} seconds exceeded."
            response = error_for(request.path, 429, message)
        else:
            fault = self._fault()
            if config.latency_seconds:
                time.sleep(config.latency_seconds)
            if fault == "drop":
                return Response(0, drop=True)
            if fault in (502, 503):
                return gateway_error(int(fault))
            response = nest_error(500, "Internal server error") if fault == 500 else self._route(request)
        response.headers += [*API_HEADERS, *state.headers()]
        return response

    def _route(self, request: Request) -> Response:
        try:
            return self.routes.handle(request)
        except Exception:
            # A sandbox bug must not pass for an injected fault: tests can assert this list is empty.
            with self._lock:
                self.server_errors.append(traceback.format_exc())
            return nest_error(500, "Internal server error")

    def _video(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _s3_error(
                405, "MethodNotAllowed", "The specified method is not allowed against this resource."
            )
        match = _VIDEO_PATH.match(request.path)
        if not match:
            return _s3_error(403, "AccessDenied", "Access Denied")
        session_id = match[1]
        problem = self.links.check(session_id, request.query.get("X-Amz-Signature", [""])[-1])
        if problem:
            return _s3_error(403, *problem)
        size = self.dataset.video_size(session_id)
        if size is None:  # the session was deleted since the link was issued
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        wanted = parse_range(request.header("Range"), size)
        if wanted == "invalid":
            response = _s3_error(416, "InvalidRange", "The requested range is not satisfiable")
            response.headers.append(("Content-Range", f"bytes */{size}"))
            return response
        start, end = wanted if isinstance(wanted, tuple) else (0, size)
        # A multipart-upload ETag: not the MD5 of the content, so a client must not treat it as one.
        etag = f'"{md5(session_id.encode(), usedforsecurity=False).hexdigest()}-{max(1, size >> 23)}"'
        headers = [
            ("Content-Type", "video/mp4"),
            ("Accept-Ranges", "bytes"),
            ("ETag", etag),
            ("Last-Modified", "Thu, 21 Nov 2024 12:30:00 GMT"),
        ]
        if isinstance(wanted, tuple):
            headers.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))
        chunks = self.dataset.video_chunks(session_id, start, end)
        response = Response(206 if wanted else 200, headers, chunks, length=end - start)
        drop_after = self.config.video_drop_after_bytes
        with self._lock:
            first_try = session_id not in self._dropped_videos
        if drop_after is not None and first_try and drop_after < end - start:
            response.drop_after = drop_after
            response.on_drop = lambda: self._mark_dropped(session_id)
        return response

    def _mark_dropped(self, session_id: str) -> None:
        with self._lock:
            self._dropped_videos.add(session_id)


def _s3_error(status: int, code: str, message: str) -> Response:
    return Response(status, [("Content-Type", "application/xml")], s3_error(code, message))

"""The sandbox as a function from request to response, independent of the HTTP plumbing.

Four hosts share one port: the OAuth2 token endpoint (not rate limited, no injected faults, logged as
kind "token"), the video store under /_video/ (S3-like: no bearer token, no rate limit, no injected
faults, kind "video"), the admin routes under /_sandbox/ (not logged) and the API (kind "api").

API pipeline: bearer token (401 costs nothing) -> rate limit -> injected fault (error_rate; after the
budget is spent, as a failing upstream would be) -> route. Rate-limit headers go on every API response
except the gateway's HTML 502/503 and dropped connections, which a client must survive without them.

The rate limit is a fixed window per credential that opens at its first request, as @nestjs/throttler
counts (the service is NestJS and the headers are throttler's): every authenticated request counts,
429s included, so hammering keeps `remaining` at 0 without extending the window; no Retry-After.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections import Counter
from random import Random
from typing import Any

from .admin import ADMIN_PREFIX, Admin
from .auth import Tokens
from .config import TOKEN_PATH, SandboxConfig
from .data import Dataset
from .legacy import build_workspaces
from .responses import API_HEADERS, Request, Response, error_for, gateway_error, nest_error
from .routes import ApiRoutes, endpoint_of
from .video import VideoLinks, VideoStore


def rate_headers(limit: int, remaining: int, reset_seconds: float) -> list[tuple[str, str]]:
    return [
        ("x-ratelimit-limit", str(limit)),
        ("x-ratelimit-remaining", str(max(0, remaining))),
        ("x-ratelimit-reset", str(max(0, math.ceil(reset_seconds)))),
    ]


class SandboxApp:
    def __init__(self, config: SandboxConfig, dataset: Dataset) -> None:
        self.config = config
        self.dataset = dataset
        self.base_url = ""
        self.tokens = Tokens(config)
        links = VideoLinks()
        self.videos = VideoStore(config, dataset, links)
        workspaces = build_workspaces(dataset, config.legacy_studies)
        self.routes = ApiRoutes(config, dataset, links, workspaces, lambda: self.base_url)
        self.admin = Admin(self)
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # credential -> (window start, hits)
        self._faults = Random(f"{config.seed}:faults")
        self._log: list[dict[str, Any]] = []
        self.server_errors: list[str] = []

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
        with self._lock:
            self._windows.clear()
            self._log.clear()

    def handle(self, request: Request) -> Response:
        arrived = time.monotonic()
        credential = None
        if request.path.startswith(ADMIN_PREFIX):
            return self.admin.handle(request)  # not logged: tests count the client's calls
        if request.path == TOKEN_PATH:
            kind, response = "token", self.tokens.token_endpoint(request)
        elif request.path.startswith("/_video/"):
            kind, response = "video", self.videos.serve(request)
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

    def _hit(self, credential: str, limit: int, window: float) -> tuple[bool, list[tuple[str, str]]]:
        now = time.monotonic()
        with self._lock:
            start, hits = self._windows.get(credential, (now, 0))
            if now >= start + window:
                start, hits = now, 0
            hits += 1
            self._windows[credential] = (start, hits)
        return hits <= limit, rate_headers(limit, limit - hits, start + window - now)

    def _fault(self) -> int | str | None:
        rate = self.config.error_rate
        if rate <= 0:
            return None
        with self._lock:
            if self._faults.random() >= rate:
                return None
            return self._faults.choice((500, 502, 503, "drop"))

    def _api(self, request: Request, credential: str | None) -> Response:
        limit, window = self.config.requests_per_window, self.config.window_seconds
        if credential is None:
            response = error_for(request.path, 401, "Unauthorized")
            response.headers += [*API_HEADERS, *rate_headers(limit, limit, window)]
            return response
        allowed, headers = self._hit(credential, limit, window)
        if not allowed:
            message = f"Too Many Requests: rate limit of {limit} requests per {window:g} seconds exceeded."
            response = error_for(request.path, 429, message)
        else:
            fault = self._fault()
            if fault == "drop":
                return Response(0, drop=True)
            if fault in (502, 503):
                return gateway_error(int(fault))
            response = nest_error(500, "Internal server error") if fault == 500 else self._route(request)
        response.headers += [*API_HEADERS, *headers]
        return response

    def _route(self, request: Request) -> Response:
        try:
            return self.routes.handle(request)
        except Exception:
            # A sandbox bug must not pass for an injected fault: tests can assert this list is empty.
            with self._lock:
                self.server_errors.append(traceback.format_exc())
            return nest_error(500, "Internal server error")

"""The sandbox as a function from request to response: the gate in front of the endpoints, and the log.

Four hosts share one port: the OAuth2 token endpoint (Okta-style; no rate limit or faults; logged as
kind "token"), the video store under /_video/ (no token, no rate limit; kind "video"), the admin routes
under /_sandbox/ (not logged) and the API (kind "api"): bearer token (a 401 costs nothing), rate limit,
injected fault, route.

The rate limit copies @nestjs/throttler, whose headers the API sends: a fixed window per credential that
opens at its first request; every authenticated request counts, 429s too; no Retry-After. All tokens of
one client share the credential "client:<id>"; each static token is "static:<n>", so logs show no secret.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from random import Random
from typing import Any
from urllib.parse import parse_qs

from .config import TOKEN_PATH, SandboxConfig
from .data import Dataset
from .faults import ScriptedFaults
from .routes import ApiRoutes, Request, Response, error_for, gateway_error, json_response, nest_error, route

API_HEADERS = (
    ("Cache-Control", "private, no-store"),
    ("Pragma", "no-cache"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
)
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
SCOPES = frozenset({"studies:read", "public_api.read"})
ADMIN_PREFIX = "/_sandbox/"
# Dataset methods a test may also call over HTTP: POST /_sandbox/<name>.
DATASET_ACTIONS = ("add_sessions", "add_late_sessions", "delete_sessions", "restore_sessions", "churn")
DATASET_ACTIONS += ("revoke_test", "restore_test", "set_transcript_available")
DATASET_ACTIONS += ("set_clock", "advance_clock", "set_study_clips", "add_clip", "edit_clip", "remove_clip")
# ScriptedFaults methods, likewise (listing_faults takes {"test_id", "faults": [...]} over HTTP).
FAULT_ACTIONS = ("delete_after_page", "transient_not_found", "revoke_after")


def rate_headers(limit: int, remaining: int, reset_seconds: float) -> list[tuple[str, str]]:
    return [
        ("x-ratelimit-limit", str(limit)),
        ("x-ratelimit-remaining", str(max(0, remaining))),
        ("x-ratelimit-reset", str(max(0, math.ceil(reset_seconds)))),
    ]


def _oauth(status: int, body: dict[str, Any]) -> Response:
    response = json_response(status, body)
    response.headers += NO_STORE
    return response


class SandboxApp:
    def __init__(self, config: SandboxConfig, dataset: Dataset) -> None:
        self.config, self.dataset, self.base_url = config, dataset, ""
        self.faults = ScriptedFaults(dataset)
        self.routes = ApiRoutes(config, dataset, lambda: self.base_url, self.faults)
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (credential, monotonic expiry)
        self._windows: dict[str, tuple[float, int]] = {}  # credential -> (window start, hits)
        self._faults = Random(f"{config.seed}:faults")
        self._log: list[dict[str, Any]] = []
        self.server_errors: list[str] = []
        self.actions: dict[str, Callable[..., Any]] = {  # POST /_sandbox/<action>
            **{name: getattr(dataset, name) for name in DATASET_ACTIONS},
            **{name: getattr(self.faults, name) for name in FAULT_ACTIONS},
            "listing_faults": self._listing_faults,
            "configure": config.configure,
            "reset_requests": self.reset_log,
            "reset": self.reset,
        }

    # -- the request log --------------------------------------------------------------------------

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
        """As freshly started, except that issued tokens stay valid and config changes stay made;
        queued scripted faults are dropped."""
        self.faults.clear()
        self.dataset.reset()
        with self._lock:
            self._windows.clear()
            self._log.clear()

    def revoke_tokens(self) -> None:
        """Forget every issued token, as a server-side revocation would; static tokens stay valid."""
        with self._lock:
            self._tokens.clear()

    # -- dispatch ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        arrived, credential = time.monotonic(), None
        if request.path.startswith(ADMIN_PREFIX):
            return self.admin(request)  # not logged: tests count the client's calls
        if request.path == TOKEN_PATH:
            kind, endpoint, response = "token", "token", self.token_endpoint(request)
        elif request.path.startswith(("/_video/", "/_clip/", "/_reel/")):
            kind, endpoint, response = "video", "video", self.routes.video(request)
        else:
            credential = self.credential_for(request)
            endpoint = route(request.path)[0]
            kind, response = "api", self._api(request, credential, endpoint)
        record = {
            "kind": kind,
            "endpoint": endpoint,
            "method": request.method,
            "path": request.path,
            "query": {k: v[0] if len(v) == 1 else list(v) for k, v in request.query.items()},
            "status": response.status or None,
            "time": arrived,
            "credential": credential,
        }
        with self._lock:
            self._log.append(record)
        return response

    def _api(self, request: Request, credential: str | None, endpoint: str) -> Response:
        limit, window = self.config.requests_per_window, self.config.window_seconds
        if credential is None:
            response = error_for(request.path, 401, "Unauthorized")
            response.headers += [*API_HEADERS, *rate_headers(limit, limit, window)]
            return response
        now = time.monotonic()
        with self._lock:
            start, hits = self._windows.get(credential, (now, 0))
            start, hits = (now, 1) if now >= start + window else (start, hits + 1)
            self._windows[credential] = (start, hits)
            fault = None
            if (
                hits <= limit
                and self.config.error_rate > 0
                and self._faults.random() < self.config.error_rate
            ):
                fault = self._faults.choice((500, 502, 503, "drop"))  # after the budget, as upstream fails
        if hits > limit:
            message = f"Too Many Requests: rate limit of {limit} requests per {window:g} seconds exceeded."
            response = error_for(request.path, 429, message)
        elif fault == "drop":
            return Response(0)
        elif fault in (502, 503):
            return gateway_error(int(fault))  # from the load balancer: HTML, no rate headers
        elif fault == 500:
            response = nest_error(500, "Internal server error")
        else:
            response = self._route(request)
            self.faults.request_answered(endpoint)  # after the answer: the n-th is still served
        response.headers += [*API_HEADERS, *rate_headers(limit, limit - hits, start + window - now)]
        return response

    def _route(self, request: Request) -> Response:
        try:
            return self.routes.handle(request)
        except Exception:
            # A sandbox bug must not pass for an injected fault: tests can assert this list is empty.
            with self._lock:
                self.server_errors.append(traceback.format_exc())
            return nest_error(500, "Internal server error")

    # -- tokens -----------------------------------------------------------------------------------

    def credential_for(self, request: Request) -> str | None:
        """The credential behind a request's bearer token, or None when it must get a 401."""
        scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if token in self.config.static_tokens:
            return f"static:{self.config.static_tokens.index(token)}"
        with self._lock:
            credential, expires_at = self._tokens.get(token, (None, 0.0))
        return credential if time.monotonic() < expires_at else None

    def token_endpoint(self, request: Request) -> Response:
        form = {
            k: v[0]
            for k, v in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
        if "client_id" not in form:
            return _oauth(
                401, {"error": "invalid_client", "error_description": "No client credentials found."}
            )
        if (form["client_id"], form.get("client_secret")) != (
            self.config.client_id,
            self.config.client_secret,
        ):
            description = "The client secret supplied for a confidential client is invalid."
            return _oauth(401, {"error": "invalid_client", "error_description": description})
        grant = form.get("grant_type", "")
        if request.method != "POST" or grant != "client_credentials":
            description = f"The authorization grant type is not supported: {grant}"
            return _oauth(400, {"error": "unsupported_grant_type", "error_description": description})
        scope = form.get("scope", "").strip() or "studies:read"
        if not set(scope.split()) <= SCOPES:
            description = "One or more scopes are not configured for the server."
            return _oauth(400, {"error": "invalid_scope", "error_description": description})
        lifetime, token = self.config.token_lifetime_seconds, secrets.token_urlsafe(48)
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (f"client:{form['client_id']}", now + lifetime)
        body = {
            "token_type": "Bearer",
            "expires_in": math.ceil(lifetime),
            "access_token": token,
            "scope": scope,
        }
        return _oauth(200, body)

    # -- admin: GET /_sandbox/state, GET /_sandbox/requests, POST /_sandbox/<action> ----------------

    def state(self) -> dict[str, Any]:
        tests = [
            {
                "test_id": study.test_id,
                "kind": study.kind,
                "title": study.title,
                "total_count": len(listed := self.dataset.session_ids(study.test_id)),
                "revoked": self.dataset.revoked_status(study.test_id),
                "session_ids": listed,
                "deleted_session_ids": self.dataset.deleted_session_ids(study.test_id),
            }
            for study in self.dataset.studies
        ]
        return {"tests": tests, "requests": self.request_counts(), "pending_faults": self.faults.pending()}

    def _listing_faults(self, test_id: str, faults: list[str] | str = ()) -> list[str]:
        # JSON has no *args: the faults come as a list (or one name).
        return self.faults.listing_faults(test_id, *([faults] if isinstance(faults, str) else faults))

    def admin(self, request: Request) -> Response:
        """No token, no rate limit. Answers `{"result": ...}`, or `{"error"}` with 400 for bad arguments
        and 404 for an unknown test, session or action."""
        action = request.path[len(ADMIN_PREFIX) :].strip("/")
        if request.method == "GET" and action == "state":
            return json_response(200, self.state())
        if request.method == "GET" and action == "requests":
            log = self.log("api")
            by_status = Counter(str(r["status"]) for r in log)
            return json_response(
                200, {"total": len(log), "by_endpoint": self.request_counts(), "by_status": by_status}
            )
        if request.method != "POST" or action not in self.actions:
            return json_response(404, {"error": f"no sandbox action {request.method} {request.path}"})
        try:
            arguments = json.loads(request.body or b"{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            return json_response(400, {"error": "the body must be a JSON object of keyword arguments"})
        try:
            return json_response(200, {"result": self.actions[action](**arguments)})
        except KeyError as error:
            return json_response(404, {"error": str(error.args[0] if error.args else error)})
        except (TypeError, ValueError) as error:
            return json_response(400, {"error": str(error)})

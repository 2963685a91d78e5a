"""The API's endpoints, once the caller is authenticated and within its rate limit.

Validation follows NestJS: query DTOs validated by class-validator (400, `message` a list naming every
failed constraint), path IDs by ParseUUIDPipe (400 "Validation failed (uuid is expected)"), unknown
routes "Cannot GET /path". qxScores of a test that is not an interaction test answers 404, like a test
the caller may not see: the spec documents no other error for it and access denials look like 404
throughout this API. A revoked test (Dataset.revoke_test) answers its status on all its endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .config import SandboxConfig
from .data import Dataset
from .legacy import Workspace, workspaces_endpoint
from .models import SessionRecord, api_time
from .responses import JSON_TYPE, Request, Response, gateway_error, json_bytes, json_response, nest_error
from .video import VideoLinks

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_BAD_UUID = "Validation failed (uuid is expected)"
# Path -> endpoint, named as the client's RequestStats names them.
_ROUTES = (
    (re.compile(r"^/api/v2/sessionResults()$"), "list_sessions"),
    (re.compile(r"^/api/v3/sessionResults/([^/]+)$"), "session_details"),
    (re.compile(r"^/api/v2/sessionResults/([^/]+)/transcript$"), "transcript"),
    (re.compile(r"^/api/v2/sessionResults/([^/]+)/videoDownloadUrl$"), "video_download_url"),
    (re.compile(r"^/api/v2/testResults/([^/]+)/qxScores$"), "qx_scores"),
    (re.compile(r"^/usertesting/api/v1/workspaces(?:/([^/]+))?$"), "workspaces"),
)


def route(path: str) -> tuple[str, str | None]:
    """(endpoint, the ID in the path) for an API path; ("unknown", None) when none matches."""
    for pattern, endpoint in _ROUTES:
        if match := pattern.match(path.rstrip("/")):
            return endpoint, match[1]
    return "unknown", None


def endpoint_of(path: str) -> str:
    return route(path)[0]


def _number(name: str, values: list[str] | None, low: int, high: int, default: int) -> tuple[int, list[str]]:
    if values is None:
        return default, []
    try:
        number = int(values[-1])
    except ValueError:
        return default, [f"{name} must be an integer number"]
    if number < low:
        return default, [f"{name} must not be less than {low}"]
    if number > high:
        return default, [f"{name} must not be greater than {high}"]
    return number, []


class ApiRoutes:
    def __init__(
        self,
        config: SandboxConfig,
        dataset: Dataset,
        links: VideoLinks,
        workspaces: list[Workspace],
        base_url: Callable[[], str],
    ) -> None:
        self._config = config
        self._dataset = dataset
        self._links = links
        self._workspaces = workspaces
        self._base_url = base_url

    def handle(self, request: Request) -> Response:
        endpoint, item = route(request.path)
        if request.method != "GET" or endpoint == "unknown":
            return nest_error(404, f"Cannot {request.method} {request.path}")
        if endpoint == "list_sessions":
            return self.list_sessions(request)
        if endpoint == "workspaces":
            return workspaces_endpoint(self._workspaces, request, item)
        if not _UUID.match(item or ""):
            return nest_error(400, _BAD_UUID)
        if endpoint == "qx_scores":
            return self.qx_scores(item or "")
        record = self._dataset.session(item or "")
        if record is None:
            return nest_error(404, "Session not found")
        if revoked := self._revoked(record.test_id):
            return revoked
        if endpoint == "session_details":
            return self.session_details(record)
        return self.transcript(record) if endpoint == "transcript" else self.video_link(record)

    def _revoked(self, test_id: str) -> Response | None:
        status = self._dataset.revoked_status(test_id)
        if status is None:
            return None
        return nest_error(404, "Test not found") if status == 404 else nest_error(401, "Unauthorized")

    def list_sessions(self, request: Request) -> Response:
        given = request.query.get("testId", [])
        test_id = given[0] if len(given) == 1 else ""
        errors = []
        if not _UUID.match(test_id):
            errors.append("testId must be a UUID")
            if not given or not given[0]:
                errors.append("testId should not be empty")
        limit, limit_errors = _number("limit", request.query.get("limit"), 1, 500, 25)
        offset, offset_errors = _number("offset", request.query.get("offset"), 0, 10000, 0)
        errors += limit_errors + offset_errors
        if errors:
            return nest_error(400, errors)
        study = self._dataset.study(test_id)
        if study is None:
            return nest_error(404, "Test not found")
        if revoked := self._revoked(study.test_id):
            return revoked
        if self._config.arrivals_per_list_request:
            self._dataset.add_sessions(study.test_id, self._config.arrivals_per_list_request)
        records = self._dataset.sessions(study.test_id)
        # Some servers serve fewer than asked (a doc page says 100); clients must page by what came.
        limit = min(limit, self._config.max_page_size)
        return json_response(
            200,
            {
                "testId": study.test_id,
                "sessions": [r.summary() for r in records[offset : offset + limit]],
                "meta": {"pagination": {"limit": limit, "offset": offset, "totalCount": len(records)}},
            },
        )

    def session_details(self, record: SessionRecord) -> Response:
        if record.session_id in self._config.failing_session_ids:
            return gateway_error(503)  # a session the backend cannot serve, every time it is asked
        body = json_bytes(self._dataset.served_payload(record.session_id))
        if record.session_id in self._config.malformed_session_ids:
            body = body[: len(body) // 2]  # cut mid-document, as a truncated upstream reply
        return Response(200, [("Content-Type", JSON_TYPE)], body)

    def transcript(self, record: SessionRecord) -> Response:
        text = self._dataset.transcript(record.session_id)
        if text is None:
            return nest_error(404, "Transcript not found")
        return Response(200, [("Content-Type", "text/vtt; charset=utf-8")], text.encode("utf-8"))

    def video_link(self, record: SessionRecord) -> Response:
        if not record.has_video:
            return nest_error(404, "Video not found")
        lifetime = self._config.video_link_lifetime_seconds
        url, expires = self._links.issue(self._base_url(), record.session_id, lifetime)
        return json_response(
            200, {"videoUrl": url, "sessionId": record.session_id, "expiresAt": api_time(expires)}
        )

    def qx_scores(self, test_id: str) -> Response:
        if self._dataset.study(test_id) is None:
            return nest_error(404, "Test not found")
        if revoked := self._revoked(test_id):
            return revoked
        scores = self._dataset.qx_scores(test_id)
        if scores is None:
            return nest_error(404, "QXscores are only available for interaction tests")
        return json_response(200, scores)

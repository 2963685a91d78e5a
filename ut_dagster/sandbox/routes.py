"""The API's endpoints, once the caller is authenticated and within its rate limit.

Validation follows NestJS: query DTOs validated by class-validator (400, `message` a list naming every
failed constraint, numbers parsed the way JavaScript's Number() does), path IDs by ParseUUIDPipe (400
"Validation failed (uuid is expected)"), unknown routes "Cannot GET /path". qxScores for a test that is
not an interaction test answers 404, like a test the caller may not see: the spec documents no other
error for it and access denials look like 404 throughout this API.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from .config import SandboxConfig
from .data import Dataset
from .legacy import Workspace, workspaces_endpoint
from .models import SessionRecord, api_time
from .responses import Request, Response, json_bytes, json_response, nest_error
from .video import VideoLinks

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SESSION_ROUTE = re.compile(r"^/api/v2/sessionResults/([^/]+)/(transcript|videoDownloadUrl)$")
_V3_ROUTE = re.compile(r"^/api/v3/sessionResults/([^/]+)$")
_QX_ROUTE = re.compile(r"^/api/v2/testResults/([^/]+)/qxScores$")
_WORKSPACE_ROUTE = re.compile(r"^/usertesting/api/v1/workspaces(?:/([^/]+))?$")
_BAD_UUID = "Validation failed (uuid is expected)"


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to, named as the client's RequestStats names it."""
    path = path.rstrip("/")
    if path == "/api/v2/sessionResults":
        return "list_sessions"
    if _V3_ROUTE.match(path):
        return "session_details"
    if match := _SESSION_ROUTE.match(path):
        return "transcript" if match[2] == "transcript" else "video_download_url"
    if _QX_ROUTE.match(path):
        return "qx_scores"
    return "workspaces" if _WORKSPACE_ROUTE.match(path) else "unknown"


def _number(name: str, values: list[str] | None, low: int, high: int, default: int) -> tuple[int, list[str]]:
    if values is None:
        return default, []
    try:
        # JavaScript's Number(): blank is 0, an array (repeated parameter) is NaN.
        number = float(values[0].strip() or 0) if len(values) == 1 else math.nan
    except ValueError:
        number = math.nan
    if math.isnan(number):
        constraints = [f"{name} must not be greater than {high}", f"{name} must not be less than {low}"]
        return default, [*constraints, f"{name} must be a number conforming to the specified constraints"]
    errors = []
    if number > high:
        errors.append(f"{name} must not be greater than {high}")
    if number < low:
        errors.append(f"{name} must not be less than {low}")
    if math.isfinite(number) and not number.is_integer():
        errors.append(f"{name} must be an integer number")
    return (int(number) if not errors else default), errors


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
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            return nest_error(404, f"Cannot {request.method} {request.path}")
        if path == "/api/v2/sessionResults":
            return self.list_sessions(request)
        if match := _V3_ROUTE.match(path):
            return self.session_details(match[1])
        if match := _SESSION_ROUTE.match(path):
            return self.transcript(match[1]) if match[2] == "transcript" else self.video_link(match[1])
        if match := _QX_ROUTE.match(path):
            return self.qx_scores(match[1])
        if match := _WORKSPACE_ROUTE.match(path):
            return workspaces_endpoint(self._workspaces, request, match[1])
        return nest_error(404, f"Cannot GET {request.path}")

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

    def _revoked(self, test_id: str) -> Response | None:
        status = self._dataset.revoked_status(test_id)
        if status is None:
            return None
        return nest_error(404, "Test not found") if status == 404 else nest_error(401, "Unauthorized")

    def _session(self, session_id: str, missing: str) -> SessionRecord | Response:
        """The session a session endpoint is about, or the error it answers instead."""
        if not _UUID.match(session_id):
            return nest_error(400, _BAD_UUID)
        record = self._dataset.session(session_id)
        if record is None:
            return nest_error(404, missing)
        return self._revoked(record.test_id) or record

    def session_details(self, session_id: str) -> Response:
        record = self._session(session_id, "Session not found")
        if isinstance(record, Response):
            return record
        response = json_response(200, self._dataset.served_payload(session_id))
        if session_id.lower() in self._config.malformed_session_ids:
            body = json_bytes(self._dataset.served_payload(session_id))
            response.body = body[: len(body) // 2]  # cut mid-document, as a truncated upstream reply
        return response

    def transcript(self, session_id: str) -> Response:
        record = self._session(session_id, "Transcript not found")
        if isinstance(record, Response):
            return record
        text = self._dataset.transcript(session_id)
        if text is None:
            return nest_error(404, "Transcript not found")
        headers = [("Content-Type", "text/vtt; charset=utf-8"), ("Accept-Ranges", "bytes")]
        return Response(200, headers, text.encode("utf-8"))

    def video_link(self, session_id: str) -> Response:
        record = self._session(session_id, "Video not found")
        if isinstance(record, Response):
            return record
        if not record.has_video:
            return nest_error(404, "Video not found")
        url, expires = self._links.issue(
            self._base_url(), record.session_id, self._config.video_link_lifetime_seconds
        )
        return json_response(
            200, {"videoUrl": url, "sessionId": record.session_id, "expiresAt": api_time(expires)}
        )

    def qx_scores(self, test_id: str) -> Response:
        if not _UUID.match(test_id):
            return nest_error(400, _BAD_UUID)
        if self._dataset.study(test_id) is None:
            return nest_error(404, "Test not found")
        if revoked := self._revoked(test_id):
            return revoked
        scores = self._dataset.qx_scores(test_id)
        if scores is None:
            return nest_error(404, "QXscores are only available for interaction tests")
        return json_response(200, scores)

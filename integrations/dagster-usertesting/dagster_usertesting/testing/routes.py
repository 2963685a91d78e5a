"""The API's endpoints and the video store, once app.py has let a request through.

Behaviour the docs leave open copies the frameworks behind the real API. v2/v3 is NestJS: errors read
`{"statusCode", "message", "error"}`, query validation (class-validator) answers 400 with `message` a
list naming every failed constraint, path IDs go through ParseUUIDPipe, unknown routes "Cannot GET /x".
The legacy v1 service answers `{"errorCode", "errorMessage"}`. Videos live on S3: pre-signed links,
XML errors. Access denials look like 404 throughout, so qxScores of a non-interaction test is a 404.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from .config import SandboxConfig
from .data import Dataset, build_workspaces
from .faults import RENAMED_FIELD, ScriptedFaults
from .records import SessionRecord, WorkspaceStudy, api_time

JSON_TYPE = "application/json; charset=utf-8"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Path -> endpoint, named as the client's RequestStats names them.
_ROUTES = (
    (re.compile(r"^/api/v2/sessionResults()$"), "list_sessions"),
    (re.compile(r"^/api/v3/sessionResults/([^/]+)$"), "session_details"),
    (re.compile(r"^/api/v2/sessionResults/([^/]+)/transcript$"), "transcript"),
    (re.compile(r"^/api/v2/sessionResults/([^/]+)/videoDownloadUrl$"), "video_download_url"),
    (re.compile(r"^/api/v2/testResults/([^/]+)/qxScores$"), "qx_scores"),
    (re.compile(r"^/api/v2/testResults/([^/]+)/highlightreels$"), "highlight_reels"),
    (re.compile(r"^/api/v2/testResults/([^/]+)/highlightreels/([^/]+)$"), "highlight_reel"),
    (re.compile(r"^/api/v2/sessionResults/([^/]+)/clips$"), "clips"),
    (re.compile(r"^/api/v2/sessionResults/([^/]+)/clips/([^/]+)$"), "clip"),
    (re.compile(r"^/usertesting/api/v1/workspaces(?:/([^/]+))?$"), "workspaces"),
)
_VIDEO_PATH = re.compile(r"^/_(video|clip|reel)/([0-9a-f-]{36})\.mp4$")
V1_PAGE = 50


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes = b""


@dataclass
class Response:
    status: int  # 0: hang up without answering (a network failure)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""
    length: int | None = None  # of an iterable body
    hang_up: bool = False  # close the connection once the body is out (a broken download)


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(status: int, data: Any) -> Response:
    return Response(status, [("Content-Type", JSON_TYPE)], json_bytes(data))


def nest_error(status: int, message: str | list[str]) -> Response:
    payload: dict[str, Any] = {"statusCode": status, "message": message}
    if status != 500:
        payload["error"] = HTTPStatus(status).phrase
    return json_response(status, payload)


def error_for(path: str, status: int, message: str) -> Response:
    """An error in the style of the service that owns the path."""
    if path.startswith("/usertesting/api/v1/"):
        code = HTTPStatus(status).phrase.upper().replace(" ", "_")
        return json_response(status, {"errorCode": code, "errorMessage": message})
    return nest_error(status, message)


def gateway_error(status: int) -> Response:
    """What a load balancer in front of the API sends: HTML, no rate-limit headers."""
    title = f"{status} {HTTPStatus(status).phrase}"
    body = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    return Response(status, [("Content-Type", "text/html")], body.encode())


def s3_error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId><HostId>sandbox</HostId></Error>"
    )
    return Response(status, [("Content-Type", "application/xml")], body.encode())


def route(path: str) -> tuple[str, str | None]:
    """(endpoint, the ID in the path) for an API path; ("unknown", None) when none matches."""
    endpoint, ids = route_ids(path)
    return endpoint, ids[0] if ids else None


def route_ids(path: str) -> tuple[str, tuple[str, ...]]:
    """(endpoint, every ID in the path) for an API path; ("unknown", ()) when none matches."""
    for pattern, endpoint in _ROUTES:
        if match := pattern.match(path.rstrip("/")):
            return endpoint, match.groups()
    return "unknown", ()


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


def _cursor(position: int) -> str:
    return base64.b64encode(str(position).encode()).decode().rstrip("=")


def _position(cursor: str) -> int | None:
    try:
        return int(base64.b64decode(cursor + "=" * (-len(cursor) % 4), validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _keyed(summary: dict[str, Any], key: str) -> dict[str, Any]:
    """The listed session with its ID under `key` (in the same place), for a renamed field."""
    return summary if key == "sessionId" else {key if k == "sessionId" else k: v for k, v in summary.items()}


def _v1_study(study: WorkspaceStudy, position: int) -> dict[str, Any]:
    name, email = study.ordered_by
    return {
        "cursor": _cursor(position),
        "orderedAt": study.ordered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderedBy": {"email": email, "name": name},
        "productType": study.product_type,
        "title": study.title,
        "type": study.type,
        "uuid": study.uuid,
    }


class ApiRoutes:
    def __init__(
        self,
        config: SandboxConfig,
        dataset: Dataset,
        base_url: Callable[[], str],
        faults: ScriptedFaults | None = None,
    ) -> None:
        self._config, self._dataset, self._base_url = config, dataset, base_url
        self._faults = faults or ScriptedFaults(dataset)
        self._workspaces = build_workspaces(dataset, config.legacy_studies)
        self._lock = threading.Lock()
        # Pre-signed links, checked server-side: X-Amz-Date has whole seconds, tests use sub-second lifetimes.
        self._links: dict[str, tuple[str, float]] = {}  # signature -> ("video/<id>", monotonic expiry)
        self._dropped: set[str] = set()  # videos whose first download broke off
        self._media_polls: dict[str, int] = {}  # clip or reel UUID -> media requests answered

    def handle(self, request: Request) -> Response:
        endpoint, item = route(request.path)
        if request.method != "GET" or endpoint == "unknown":
            return nest_error(404, f"Cannot {request.method} {request.path}")
        if endpoint == "list_sessions":
            return self.list_sessions(request)
        if endpoint == "workspaces":
            return self.workspaces(request, item)
        ids = route_ids(request.path)[1]
        if not all(_UUID.match(i or "") for i in ids):
            return nest_error(400, "Validation failed (uuid is expected)")
        if endpoint == "qx_scores":
            return self.qx_scores(item or "")
        if endpoint in ("highlight_reels", "highlight_reel"):
            return self.highlight_reels(*ids)
        record = self._dataset.session(item or "")
        if record is None:
            return nest_error(404, "Session not found")
        if revoked := self._revoked(record.test_id):
            return revoked
        if self._faults.take_not_found(endpoint, record.session_id):
            return nest_error(404, "Session not found")  # exactly what a missing session gets
        if endpoint == "session_details":
            return self.session_details(record)
        if endpoint in ("clips", "clip"):
            return self.session_clips(record, ids[1] if len(ids) > 1 else None)
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
        if errors := errors + limit_errors + offset_errors:
            return nest_error(400, errors)
        study = self._dataset.study(test_id)
        if study is None:
            return nest_error(404, "Test not found")
        if revoked := self._revoked(study.test_id):
            return revoked
        fault = self._faults.next_listing_fault(study.test_id)
        if self._config.arrivals_per_list_request:
            self._dataset.add_sessions(study.test_id, self._config.arrivals_per_list_request)
        records = self._dataset.sessions(study.test_id)
        limit = min(limit, self._config.max_page_size)  # clients must page by what came, not by `limit`
        page = records[offset : offset + limit]
        total = max(0, len(records) + self._config.listing_count_bias)
        key = self._config.listing_session_field
        if fault == "empty":
            page, total = [], 0
        elif fault == "empty_keep_count":
            page = []
        elif fault == "short":
            page = page[: len(page) // 2]
        elif fault in ("count_low", "count_high"):
            total = max(0, total + (1 if fault == "count_high" else -1))
        elif fault == "renamed":
            key = RENAMED_FIELD
        response = json_response(
            200,
            {
                "testId": study.test_id,
                "sessions": [_keyed(r.summary(), key) for r in page],
                "meta": {"pagination": {"limit": limit, "offset": offset, "totalCount": total}},
            },
        )
        # After the answer is made, before it is sent: the client sees the page, then the deletion.
        self._faults.listing_served(study.test_id, [r.session_id for r in page])
        return response

    def session_details(self, record: SessionRecord) -> Response:
        if record.session_id in self._config.failing_session_ids:
            return gateway_error(503)  # a session the backend cannot serve, every time it is asked
        body = json_bytes(self._dataset.served_payload(record.session_id))
        if record.session_id in self._config.malformed_session_ids:
            body = body[: len(body) // 2]  # cut mid-document, as a truncated upstream reply
        return Response(200, [("Content-Type", JSON_TYPE)], body)

    def transcript(self, record: SessionRecord) -> Response:
        if record.session_id in self._config.failing_transcript_ids:
            return gateway_error(503)
        text = self._dataset.transcript(record.session_id)
        if text is None:
            return nest_error(404, "Transcript not found")
        return Response(200, [("Content-Type", "text/vtt; charset=utf-8")], text.encode("utf-8"))

    def video_link(self, record: SessionRecord) -> Response:
        if record.session_id in self._config.failing_video_ids:
            return gateway_error(503)
        if not record.has_video:
            return nest_error(404, "Video not found")
        lifetime = self._config.video_link_lifetime_seconds
        url, expires = self._presign("video", record.session_id, lifetime)
        return json_response(200, {"videoUrl": url, "sessionId": record.session_id, "expiresAt": expires})

    def _presign(self, kind: str, item: str, lifetime: float) -> tuple[str, str]:
        """A pre-signed S3-style link to /_<kind>/<item>.mp4 valid `lifetime` s, and when it expires."""
        now, signature = datetime.now(UTC), secrets.token_hex(32)
        with self._lock:
            self._links[signature] = (f"{kind}/{item}", time.monotonic() + lifetime)
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"AKIASANDBOXEXAMPLE/{now:%Y%m%d}/us-east-2/s3/aws4_request",
            "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
            "X-Amz-Expires": str(max(0, round(lifetime))),
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": signature,
        }
        url = f"{self._base_url()}/_{kind}/{item}.mp4?{urlencode(query)}"
        return url, api_time(now + timedelta(seconds=lifetime))

    def _media_status(self, kind: str, item: str) -> dict[str, Any]:
        """`status` and link of a clip's or reel's media: GENERATING for its first polls, then a link."""
        with self._lock:
            polls = self._media_polls.get(item, 0)
            self._media_polls[item] = polls + 1
        if polls < self._config.clip_generating_polls:
            return {"status": "GENERATING", f"{kind}Url": None}
        url, _ = self._presign(kind, item, self._config.clip_link_lifetime_seconds)
        return {"status": "GENERATED", f"{kind}Url": url}

    def session_clips(self, record: SessionRecord, clip_uuid: str | None) -> Response:
        if record.session_id in self._config.failing_clip_session_ids:
            return gateway_error(503)
        body = self._dataset.session_clips(record.session_id)
        if body is None:
            return nest_error(404, "Session video or clips not found")
        if clip_uuid is None:
            return json_response(200, body)
        if clip_uuid.lower() not in {c["uuid"] for c in body["clips"]}:
            return nest_error(404, "Clip not found")
        return json_response(
            200, {"clipUuid": clip_uuid.lower(), **self._media_status("clip", clip_uuid.lower())}
        )

    def highlight_reels(self, test_id: str, reel_id: str | None = None) -> Response:
        if self._dataset.study(test_id) is None:
            return nest_error(404, "Test not found")
        if revoked := self._revoked(test_id):
            return revoked
        body = self._dataset.highlight_reels(test_id)
        if body is None:
            return nest_error(404, "Test or highlight reels not found")
        if reel_id is None:
            return json_response(200, body)
        if reel_id.lower() not in {r["uuid"] for r in body["reels"]}:
            return nest_error(404, "Highlight reel not found")
        return json_response(200, {"reelId": reel_id.lower(), **self._media_status("reel", reel_id.lower())})

    def qx_scores(self, test_id: str) -> Response:
        if self._dataset.study(test_id) is None:
            return nest_error(404, "Test not found")
        if revoked := self._revoked(test_id):
            return revoked
        if test_id.lower() in self._config.failing_qx_test_ids:
            return gateway_error(503)
        scores = self._dataset.qx_scores(test_id)
        if scores is None:
            return nest_error(404, "QXscores are only available for interaction tests")
        return json_response(200, scores)

    def workspaces(self, request: Request, workspace_id: str | None) -> Response:
        """v1: the workspaces, or one's studies 50 at a time, each with the `cursor` to pass as `after`."""
        if workspace_id is None:
            return json_response(
                200, [{"id": w.id, "name": w.name, "uuid": w.uuid} for w in self._workspaces]
            )
        found = next((w for w in self._workspaces if w.uuid == workspace_id.lower()), None)
        if found is None:
            return error_for(request.path, 404, "Workspace not found")
        start = 0
        if after := request.query.get("after"):
            start = _position(after[-1]) or 0
            if not 1 <= start <= len(found.studies):
                return error_for(request.path, 400, "Invalid cursor")
        page = found.studies[start : start + V1_PAGE]
        return json_response(200, [_v1_study(s, start + i + 1) for i, s in enumerate(page)])

    def video(self, request: Request) -> Response:
        """The S3 bucket the links point at: GET only, the link is the credential, no Range."""
        match = _VIDEO_PATH.match(request.path)
        if request.method != "GET" or not match:
            return s3_error(403, "AccessDenied", "Access Denied")
        kind, session_id = match[1], match[2]
        with self._lock:
            link = self._links.get(request.query.get("X-Amz-Signature", [""])[-1])
            first_try = session_id not in self._dropped
        if link is None or link[0] != f"{kind}/{session_id}":
            message = "The request signature we calculated does not match the signature you provided. "
            return s3_error(403, "SignatureDoesNotMatch", message + "Check your key and signing method.")
        if time.monotonic() >= link[1]:
            return s3_error(403, "AccessDenied", "Request has expired")
        if kind != "video":  # a clip or reel: its media stays once made, whatever happened since
            size = self._config.clip_size_bytes
            return Response(200, [("Content-Type", "video/mp4")], self._dataset.clip_chunks(session_id), size)
        size = self._dataset.video_size(session_id)
        if size is None:  # the session was deleted since the link was issued
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        drop_after = self._config.video_drop_after_bytes
        if drop_after is None or not first_try or drop_after >= size:
            return Response(
                200, [("Content-Type", "video/mp4")], self._dataset.video_chunks(session_id), size
            )

        def broken() -> Iterable[bytes]:  # the first download of each video breaks off: retry from the start
            yield from self._dataset.video_chunks(session_id, 0, drop_after)
            with self._lock:
                self._dropped.add(session_id)

        return Response(200, [("Content-Type", "video/mp4")], broken(), size, hang_up=True)

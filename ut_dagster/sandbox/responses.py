"""Request and response values passed between the HTTP layer and the sandbox's handlers.

Error bodies follow the frameworks behind the real API: the v2/v3 service is NestJS (its operation IDs
are `SessionResultsController_...`), so errors read `{"statusCode", "message", "error"}` and validation
errors carry `message` as a list of strings; the legacy v1 service answers `{"errorCode", "errorMessage"}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from typing import Any

API_HEADERS = (
    ("Cache-Control", "private, no-store"),
    ("Pragma", "no-cache"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
)
JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""
    # For an iterable body; bytes bodies know their own length.
    length: int | None = None
    # Close the connection without answering at all (a simulated network failure).
    drop: bool = False
    # Close the connection after this many body bytes, then call on_drop.
    drop_after: int | None = None
    on_drop: Callable[[], None] | None = None


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(status: int, data: Any) -> Response:
    return Response(status, [("Content-Type", JSON_TYPE)], json_bytes(data))


def nest_error(status: int, message: str | list[str]) -> Response:
    payload: dict[str, Any] = {"statusCode": status, "message": message}
    if status != 500:
        payload["error"] = HTTPStatus(status).phrase
    return json_response(status, payload)


def v1_error(status: int, message: str) -> Response:
    code = HTTPStatus(status).phrase.upper().replace(" ", "_")
    return json_response(status, {"errorCode": code, "errorMessage": message})


def error_for(path: str, status: int, message: str) -> Response:
    """An error in the style of the service that owns the path."""
    if path.startswith("/usertesting/api/v1/"):
        return v1_error(status, message)
    return nest_error(status, message)


def gateway_error(status: int) -> Response:
    """What a load balancer in front of the API sends: HTML, no rate-limit headers."""
    phrase = HTTPStatus(status).phrase
    body = (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n"
        f"<body>\r\n<center><h1>{status} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, [("Content-Type", "text/html")], body.encode())

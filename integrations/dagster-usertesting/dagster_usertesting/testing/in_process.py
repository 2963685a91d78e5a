"""The sandbox served in process: a UserTestingResource for pipeline tests that needs no socket.

    with SandboxServer(config) as sandbox:
        resource = in_process_resource(sandbox, client_id=..., client_secret=...)
        build_definitions(settings, {"usertesting": resource})

Only the bottom of the stack changes: the resource's httpx clients get a transport that hands each
request to the sandbox's `SandboxApp.handle`, as the HTTP server would. Everything above it is the
real code (UserTestingClient's paging, tokens, the shared rate limiter, retries, stats), and the
sandbox keeps its request log, faults, 429s and rate windows exactly as over HTTP. The real HTTP
path stays covered by the client, limiter and transport tests and by tests that run the CLI or the
daemon in another process.

A resource is rebuilt from its config for each run (Dagster copies public fields only), so the
sandbox is found by origin (scheme, host, port) in a registry of this process: a sandbox must be
started (it owns the origin its URLs and video links use) and registered by `in_process_resource`.
Requests to any other origin fail as an unreachable host would. Development and tests only: the code
location never imports this module.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource

from .app import SandboxApp
from .server import Request, SandboxServer

_lock = threading.Lock()
# Weak: a sandbox's app lives as long as the sandbox does, not as long as this process.
_apps: weakref.WeakValueDictionary[str, SandboxApp] = weakref.WeakValueDictionary()


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


class InProcessSandboxResource(UserTestingResource):
    """UserTestingResource over an in-process sandbox; build it with `in_process_resource`."""

    def http_transport(self) -> httpx.BaseTransport:
        return httpx.MockTransport(_serve)


def in_process_resource(sandbox: SandboxServer, **settings: Any) -> InProcessSandboxResource:
    """A resource whose requests `sandbox` answers without a socket; `settings` as UserTestingResource's."""
    with _lock:
        _apps[_origin(httpx.URL(sandbox.url))] = sandbox.app
    return InProcessSandboxResource(**{"base_url": sandbox.url, "token_url": sandbox.token_url, **settings})


def _serve(request: httpx.Request) -> httpx.Response:
    with _lock:
        app = _apps.get(_origin(request.url))
    if app is None:
        raise httpx.ConnectError(f"no in-process sandbox at {_origin(request.url)}", request=request)
    # What the HTTP server hands the app: the raw target split, the path unquoted, every header.
    target = urlsplit(request.url.raw_path.decode("ascii"))
    headers = Message()
    for name, value in request.headers.multi_items():
        headers[name] = value
    query = parse_qs(target.query, keep_blank_values=True)
    served = app.handle(Request(request.method, unquote(target.path), query, headers, request.read()))
    if not served.status:
        # What httpx raises when a server closes the connection without answering.
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    body = served.body
    length = len(body) if isinstance(body, bytes) else served.length or 0
    stream = _Body([body] if isinstance(body, bytes) else body, length, request)
    return httpx.Response(
        served.status, headers=[*served.headers, ("Content-Length", str(length))], stream=stream
    )


class _Body(httpx.SyncByteStream):
    """The body as the server would write it, lazily; a connection closed mid-body fails the read
    as it does over a socket (a response shorter than its Content-Length)."""

    def __init__(self, chunks: Any, length: int, request: httpx.Request) -> None:
        self._chunks, self._length, self._request = chunks, length, request

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._chunks:  # a broken download's chunks stop short of its length
            yield chunk
            sent += len(chunk)
        if sent < self._length:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                f"(received {sent} bytes, expected {self._length})",
                request=self._request,
            )

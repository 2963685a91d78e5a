"""The HTTP server: the standard library's threading server on 127.0.0.1, HTTP/1.1 with keep-alive.

stop() is meant to be reliable: it ends the accept loop, closes the listening socket, shuts down every
open client connection (so keep-alive and streaming handler threads end at once) and joins them.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Collection, Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .app import SandboxApp
from .config import LEGACY_TOKEN_PATH, TOKEN_PATH, SandboxConfig
from .data import Dataset
from .responses import Request, Response

HOST = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "UserTestingSandbox/1.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle and delayed ACKs add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the app keeps its own structured log

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        body = self._read_body()
        query = parse_qs(parts.query, keep_blank_values=True)
        request = Request(self.command, unquote(parts.path), query, self.headers, body)
        self._write(self.server.app.handle(request))

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, response: Response) -> None:
        if response.drop:
            self._drop()
            return
        body = response.body
        length = len(body) if isinstance(body, bytes) else response.length
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        if isinstance(body, bytes):
            self.wfile.write(body)
        else:
            self._stream(body, response)

    def _stream(self, body: Iterable[bytes], response: Response) -> None:
        sent, limit = 0, response.drop_after
        for chunk in body:
            if limit is not None and sent + len(chunk) >= limit:
                self.wfile.write(chunk[: limit - sent])
                self._drop()
                if response.on_drop:
                    response.on_drop()
                return
            self.wfile.write(chunk)
            sent += len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 refuses connections when a client opens many at once

    def __init__(self, port: int, app: SandboxApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            daemon=True,
            name="sandbox-conn",
        )
        with self._lock:
            self._connections[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # clients hang up mid-response; the video drop does so on purpose
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        with self._lock:
            open_now = list(self._connections.items())
        for sock, _ in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in open_now:
            thread.join(timeout)


class SandboxServer:
    """A local UserTesting API. Use as a context manager, or start() and stop()."""

    def __init__(self, config: SandboxConfig | None = None, port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.dataset = Dataset(self.config)
        self.app = SandboxApp(self.config, self.dataset)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        if self._server is not None:
            raise RuntimeError("this sandbox has already been started")
        self._server = _Server(self._port, self.app)
        self.app.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
            name="sandbox-server",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None or not thread.is_alive():
            return
        server.shutdown()
        thread.join()
        server.server_close()
        server.close_connections(timeout=5.0)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def legacy_token_url(self) -> str:
        return self.url + LEGACY_TOKEN_PATH

    @property
    def static_token(self) -> str:
        return self.config.static_tokens[0]

    @property
    def test_ids(self) -> list[str]:
        return self.dataset.test_ids

    @property
    def requests(self) -> list[dict[str, Any]]:
        """API requests served so far: kind, method, path, query, status (None if dropped), time, credential."""
        return self.app.log("api")

    @property
    def token_requests(self) -> list[dict[str, Any]]:
        return self.app.log("token")

    @property
    def video_requests(self) -> list[dict[str, Any]]:
        return self.app.log("video")

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of sandbox bugs (answered 500); always empty unless the sandbox itself is broken."""
        return list(self.app.server_errors)

    def reset_requests(self) -> None:
        self.app.reset_log()

    def request_counts(self, kind: str | None = "api") -> dict[str, int]:
        """Requests served per endpoint: list_sessions, session_details, transcript,
        video_download_url, qx_scores, workspaces (kind "api"); "token" and "video" for the others."""
        return self.app.request_counts(kind)

    # -- control: each is also POST /_sandbox/<name> with the keyword arguments as a JSON body ----

    def add_sessions(self, test_id: str, count: int, finish_time: datetime | str | None = None) -> list[str]:
        """New sessions, the newest of the test (or all finishing at finish_time)."""
        return self.dataset.add_sessions(test_id, count, finish_time)

    def add_late_sessions(self, test_id: str, count: int, behind: int = 500) -> list[str]:
        """Late arrivals: new sessions with an old finishTime, listed behind `behind` newer ones."""
        return self.dataset.add_late_sessions(test_id, count, behind)

    def delete_sessions(
        self, session_ids: Collection[str] = (), test_id: str | None = None, count: int = 0
    ) -> list[str]:
        """Delete sessions (given, or `count` of `test_id` picked by the seed); returns their IDs."""
        return self.dataset.delete_sessions(session_ids, test_id, count)

    def restore_sessions(self, session_ids: Collection[str] = ()) -> list[str]:
        return self.dataset.restore_sessions(session_ids)

    def revoke_test(self, test_id: str, status: int = 404) -> None:
        """Every endpoint about the test answers `status` (404 or 401) until restore_test."""
        self.dataset.revoke_test(test_id, status)

    def restore_test(self, test_id: str) -> None:
        self.dataset.restore_test(test_id)

    def churn(
        self, deleted: int = 0, new: int = 0, late: int = 0, test_ids: Collection[str] | None = None
    ) -> dict[str, dict[str, list[str]]]:
        """Per test: delete `deleted` sessions, add `new` newest and `late` late arrivals."""
        return self.dataset.churn(deleted, new, late, test_ids)

    def reset(self) -> None:
        """Generated data again, no revocations, empty request log, fresh rate-limit windows."""
        self.app.reset()

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (clients still holding one get 401s)."""
        self.app.tokens.revoke()

    def set_transcript_available(self, session_id: str, available: bool) -> None:
        self.dataset.set_transcript_available(session_id, available)

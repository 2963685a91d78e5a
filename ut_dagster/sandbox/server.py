"""The HTTP server: the standard library's threading server on 127.0.0.1, HTTP/1.1 with keep-alive.

stop() is meant to be reliable: it ends the accept loop, closes the listening socket, shuts down every
open client connection (so keep-alive and streaming handler threads end at once) and joins them.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .app import SandboxApp
from .config import TOKEN_PATH, SandboxConfig
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
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = _serve

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
        # Control, documented on Dataset; each is also POST /_sandbox/<name> (see admin.py).
        data = self.dataset
        self.add_sessions, self.add_late_sessions, self.churn = (
            data.add_sessions,
            data.add_late_sessions,
            data.churn,
        )
        self.delete_sessions, self.restore_sessions = data.delete_sessions, data.restore_sessions
        self.revoke_test, self.restore_test = data.revoke_test, data.restore_test
        self.set_transcript_available = data.set_transcript_available
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

    def reset(self) -> None:
        """Generated data again, no revocations, empty request log, fresh rate-limit windows."""
        self.app.reset()

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (clients still holding one get 401s)."""
        self.app.tokens.revoke()

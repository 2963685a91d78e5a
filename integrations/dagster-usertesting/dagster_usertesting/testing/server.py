"""The HTTP server (the standard library's, threaded, HTTP/1.1 keep-alive, on 127.0.0.1) and SandboxServer."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .app import SandboxApp
from .config import TOKEN_PATH, SandboxConfig
from .data import Dataset
from .routes import Request

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
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        query = parse_qs(parts.query, keep_blank_values=True)
        response = self.server.app.handle(
            Request(self.command, unquote(parts.path), query, self.headers, body)
        )
        if response.status:
            chunks = [response.body] if isinstance(response.body, bytes) else response.body
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            length = len(response.body) if isinstance(response.body, bytes) else response.length or 0
            self.send_header("Content-Length", str(length))
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(chunk)
        if response.hang_up or not response.status:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # and, as block_on_close, server_close() joins them
    request_queue_size = 128  # the default 5 refuses connections when a client opens many at once

    def __init__(self, port: int, app: SandboxApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hang up mid-response; videos on purpose
            super().handle_error(request, client_address)

    def hang_up_all(self) -> None:
        """Shut every open connection, so keep-alive and streaming handler threads end at once."""
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class SandboxServer:
    """A local UserTesting API. Use as a context manager, or start() and stop()."""

    def __init__(self, config: SandboxConfig | None = None, port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.dataset = data = Dataset(self.config)
        self.app = SandboxApp(self.config, self.dataset)
        # Control, documented on Dataset; each is also POST /_sandbox/<name>.
        self.add_sessions, self.add_late_sessions, self.churn = (
            data.add_sessions,
            data.add_late_sessions,
            data.churn,
        )
        self.delete_sessions, self.restore_sessions = data.delete_sessions, data.restore_sessions
        self.revoke_test, self.restore_test = data.revoke_test, data.restore_test
        self.set_transcript_available = data.set_transcript_available
        self.set_clock, self.advance_clock, self.set_study_clips = (
            data.set_clock,
            data.advance_clock,
            data.set_study_clips,
        )
        self.add_clip, self.edit_clip, self.remove_clip = data.add_clip, data.edit_clip, data.remove_clip
        self.reset, self.reset_requests, self.revoke_tokens = (
            self.app.reset,
            self.app.reset_log,
            self.app.revoke_tokens,
        )
        self.request_counts = self.app.request_counts
        # Scripted faults (documented on ScriptedFaults) and config changes; also POST /_sandbox/<name>.
        faults = self.app.faults
        self.listing_faults, self.delete_after_page = faults.listing_faults, faults.delete_after_page
        self.transient_not_found, self.revoke_after = faults.transient_not_found, faults.revoke_after
        self.configure = self.config.configure
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
        """Ends the accept loop, closes every open connection and joins its thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None or thread is None or not thread.is_alive():
            return
        server.shutdown()
        thread.join()
        server.hang_up_all()
        server.server_close()

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

    def client_environment(self) -> dict[str, str]:
        """The USERTESTING_* variables a client of this sandbox is configured by: its URLs, the
        credential and its pace, as a user would export them."""
        return {
            "USERTESTING_BASE_URL": self.url,
            "USERTESTING_TOKEN_URL": self.token_url,
            "USERTESTING_CLIENT_ID": self.config.client_id,
            "USERTESTING_CLIENT_SECRET": self.config.client_secret,
            "USERTESTING_REQUESTS_PER_MINUTE": str(self.config.requests_per_window),
            "USERTESTING_RATE_WINDOW_SECONDS": str(self.config.window_seconds),
        }

    @property
    def static_token(self) -> str:
        return self.config.static_tokens[0]

    @property
    def test_ids(self) -> list[str]:
        return self.dataset.test_ids

    @property
    def requests(self) -> list[dict[str, Any]]:
        """API calls served: kind, endpoint, method, path, query, status (None if hung up), time, credential."""
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

"""A TCP proxy in front of a Redis-protocol server that can hold one command back: a slow network link.

The test decides when the held command goes on, so "this command reached Redis late" is a fact the
test arranges, not a timing it hopes for.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit


def _command_end(buffer: bytes) -> tuple[bytes, int] | None:
    """(command name upper-cased, bytes it takes) of the first complete RESP command, else None."""
    if not buffer.startswith(b"*"):
        raise ValueError(f"not a RESP array: {buffer[:20]!r}")
    line_end = buffer.find(b"\r\n")
    if line_end < 0:
        return None
    count, offset, name = int(buffer[1:line_end]), line_end + 2, b""
    for index in range(count):
        line_end = buffer.find(b"\r\n", offset)
        if line_end < 0:
            return None
        length = int(buffer[offset + 1 : line_end])
        start, offset = line_end + 2, line_end + 2 + length + 2
        if offset > len(buffer):
            return None
        if index == 0:
            name = buffer[start : start + length].upper()
    return name, offset


class HoldingRedisProxy:
    """Forwards everything; the first command named in `hold` waits until `release` is set.

    `held` is set once that command has arrived and is being held back.
    """

    def __init__(self, upstream_url: str, hold: tuple[bytes, ...]) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._path = parts.path
        self._hold = hold
        self._holding_done = False
        self._lock = threading.Lock()
        self.held = threading.Event()
        self.release = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"redis://{host}:{port}{self._path}"

    def close(self) -> None:
        self.release.set()
        _close_quietly(self._listener)  # wakes the accepting thread
        self._listener.close()
        for sock in self._sockets:
            _close_quietly(sock)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def _start(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            self._sockets += [client, upstream]
            self._start(self._commands, client, upstream)
            self._start(self._replies, upstream, client)

    def _should_hold(self, name: bytes) -> bool:
        with self._lock:
            if self._holding_done or name not in self._hold:
                return False
            self._holding_done = True
            return True

    def _commands(self, source: socket.socket, target: socket.socket) -> None:
        buffer = b""
        try:
            while chunk := source.recv(65536):
                buffer += chunk
                while buffer and (parsed := _command_end(buffer)):
                    name, end = parsed
                    if self._should_hold(name):
                        self.held.set()
                        self.release.wait()
                    target.sendall(buffer[:end])
                    buffer = buffer[end:]
        except OSError:
            pass
        finally:
            _close_quietly(target)

    def _replies(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            _close_quietly(target)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)

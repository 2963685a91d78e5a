"""Fixtures of the API client's tests."""

import threading

import pytest


@pytest.fixture
def redis_url():
    """A Redis-protocol server (fakeredis) on 127.0.0.1, stopped by the test that started it."""
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    yield f"redis://{host}:{port}/0"
    server.shutdown()
    server.server_close()
    thread.join()

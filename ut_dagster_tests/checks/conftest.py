"""A real `dagster-webserver` over an instance that real syncs wrote: the checks as the UI reads them.

(The same fixture as titles/test_run_titles.py's; kept here so the two suites can move independently.)
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_DEADLINE_S = 240.0


class Webserver:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, text: str, **variables: object) -> dict:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": text, "variables": variables}, timeout=120
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def start_webserver(tmp_path) -> Iterator:
    """Starts `dagster-webserver` on the checkout's workspace with the given data dir; stops it after."""
    servers: list[tuple[subprocess.Popen, object]] = []

    def start(data_dir: Path) -> Webserver:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("UT_", "USERTESTING_"))},
            "UT_DATA_DIR": str(data_dir),
            "DAGSTER_HOME": str(data_dir / "dagster_home"),
        }
        port = _free_port()
        log = (tmp_path / "webserver.log").open("wb")
        server = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the code server stops with it
        )
        servers.append((server, log))
        web = Webserver(f"http://127.0.0.1:{port}")
        _wait_until_loaded(web, server)
        return web

    try:
        yield start
    finally:
        for server, log in servers:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            log.close()


def _wait_until_loaded(web: Webserver, server: subprocess.Popen) -> None:
    """Until the webserver answers and its code location has loaded (or the deadline passes)."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        assert server.poll() is None, "the webserver exited"
        try:
            data = web.query(
                "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                "locationOrLoadError { __typename } } } } }"
            )
        except httpx.HTTPError:
            time.sleep(0.5)  # not listening yet: poll again
            continue
        entries = data["workspaceOrError"]["locationEntries"]
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            assert [e["locationOrLoadError"]["__typename"] for e in entries] == ["RepositoryLocation"]
            return
        time.sleep(0.5)
    raise AssertionError("the webserver did not load the code location in time")

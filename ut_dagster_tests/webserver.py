"""A real Dagster webserver (`dagster-webserver`, `dg dev`) on 127.0.0.1, as the UI reads it: GraphQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    command: Sequence[str | Path], port: int, cwd: Path, env: dict[str, str], log: Path
) -> Iterator[Webserver]:
    """Runs `command` (a server listening on 127.0.0.1:`port`) until its code locations have loaded,
    yields it, then stops it and its children (code servers, daemon)."""
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the code server stops with it
        )
        web = Webserver(f"http://127.0.0.1:{port}")
        try:
            _wait_until_loaded(web, server, log)
            yield web
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _wait_until_loaded(web: Webserver, server: subprocess.Popen, log: Path) -> None:
    """Until the webserver answers and its code locations have loaded (or the deadline passes)."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the webserver exited:\n{log.read_text(errors='replace')}"
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
            kinds = [e["locationOrLoadError"]["__typename"] for e in entries]
            assert kinds == ["RepositoryLocation"] * len(entries), log.read_text(errors="replace")
            return
        time.sleep(0.5)
    raise AssertionError(
        f"the webserver did not load its code locations in time:\n{log.read_text(errors='replace')}"
    )

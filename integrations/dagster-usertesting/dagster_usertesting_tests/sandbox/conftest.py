"""Fixtures for the sandbox tests: every sandbox a test starts is stopped when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from dagster_usertesting.testing import SandboxConfig, SandboxServer

# Enough budget that only the rate-limit tests ever see a 429.
UNLIMITED = 100_000


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """start_sandbox(**config_fields) -> a running SandboxServer, stopped at teardown."""
    with ExitStack() as stack:

        def start(**fields: Any) -> SandboxServer:
            fields.setdefault("requests_per_window", UNLIMITED)
            return stack.enter_context(SandboxServer(SandboxConfig(**fields), port=0))

        yield start


@pytest.fixture
def sandbox(start_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return start_sandbox()


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A client of the default sandbox, authenticated with its static token."""
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as client:
        yield client


def fetch_token(sandbox: SandboxServer, client: httpx.Client | None = None) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        "scope": "studies:read",
    }
    response = (client or httpx).post(sandbox.token_url, data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture
def token_of() -> Callable[..., str]:
    return fetch_token

"""The pytest fixtures of dagster-usertesting's tests and of ut-dagster's: a sandbox API on 127.0.0.1,
resources pointed at it, an S3 server, and a live current Dagster instance.

A plugin, not a conftest: this package's conftest.py and ut-dagster's (the repository root) both load
it with `pytest_plugins`, so the integration's tests run alone (`pytest` in its folder) or with the
project's. Every server a test starts is stopped by that test's fixture teardown.
"""

from collections.abc import Callable, Iterator

import pytest
from dagster import DagsterInstance

from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.testing import SandboxConfig, SandboxServer
from dagster_usertesting.testing.in_process import in_process_resource

# Fast enough for tests, slow enough that the limiter is really exercised.
FAST = {"requests_per_window": 50, "window_seconds": 1.0}


@pytest.fixture(scope="module", autouse=True)
def live_current_instance() -> Iterator[None]:
    """Each test module starts with a live current Dagster instance.

    Loading definitions reads the current instance's definitions state; an instance a previous
    module made current and disposed of fails that read ("undefined DagsterInstance weakref").
    """
    with DagsterInstance.ephemeral():
        yield


@pytest.fixture(autouse=True)
def live_current_instance_per_test(live_current_instance: None) -> Iterator[None]:
    """... and so does each test (about 60 ms each): a test that loads definitions must not depend on
    which test ran before it in the same worker (seen: `undefined DagsterInstance weakref` in a
    clean clone's run, for tests that passed in another order). Its cause: a `build_schedule_context`
    used without `with` keeps an entered instance; collected during a later test, it set Dagster's
    current definitions state back to a dead instance's. Close every Dagster context you build."""
    with DagsterInstance.ephemeral():
        yield


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    started: list[SandboxServer] = []

    def start(**config: object) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**{**FAST, **config})).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _resource_factory(tmp_path, in_process: bool) -> Iterator[Callable[..., UserTestingResource]]:
    built: list[UserTestingResource] = []

    def build(sandbox: SandboxServer, **overrides: object) -> UserTestingResource:
        settings: dict[str, object] = {
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "requests_per_minute": sandbox.config.requests_per_window,
            "rate_window_seconds": sandbox.config.window_seconds,
            "rate_limit_store": str(tmp_path / "rate-limit.sqlite"),
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            **overrides,
        }
        if in_process:
            resource: UserTestingResource = in_process_resource(sandbox, **settings)
        else:
            resource = UserTestingResource(
                **{"base_url": sandbox.url, "token_url": sandbox.token_url, **settings}
            )
        built.append(resource)
        return resource

    yield build
    for resource in built:
        resource.close()


@pytest.fixture
def api_resource(tmp_path) -> Iterator[Callable[..., UserTestingResource]]:
    """Builds a UserTestingResource for a sandbox over HTTP, with client credentials and a shared limiter file.

    For the tests of the client, limiter and transport, and of processes that reach the sandbox over HTTP.
    """
    yield from _resource_factory(tmp_path, in_process=False)


@pytest.fixture
def sandbox_resource(tmp_path) -> Iterator[Callable[..., UserTestingResource]]:
    """As `api_resource`, with the sandbox answering in process (no socket): for pipeline tests.

    The same client, limiter and retries, and the same sandbox log, faults and rate windows.
    """
    yield from _resource_factory(tmp_path, in_process=True)


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with fake credentials (and no user AWS config that could leak in)."""
    from moto.server import ThreadedMotoServer

    empty = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()

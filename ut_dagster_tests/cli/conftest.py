"""In-process CLI tests: the sandbox answering in process, a real Dagster instance, state under tmp_path."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from io import StringIO

import pytest
from dagster import DagsterInstance, Definitions

from dagster_usertesting.testing import SandboxServer
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


@dataclass
class Cli:
    sandbox: SandboxServer
    settings: Settings
    defs: Definitions
    instance: DagsterInstance

    def sync(self, *test_ids: str, **kwargs: object) -> tuple[int, str, str]:
        out, err = StringIO(), StringIO()
        code = run_sync(
            list(test_ids or self.sandbox.test_ids),
            defs=self.defs,
            instance=self.instance,
            settings=self.settings,
            out=out,
            err=err,
            **kwargs,
        )
        return code, out.getvalue(), err.getvalue()

    def registered(self) -> set[str]:
        return set(self.instance.get_dynamic_partitions("usertesting_tests"))


@pytest.fixture
def make_cli(tmp_path, start_sandbox, sandbox_resource) -> Iterator[Callable[..., Cli]]:
    stack = ExitStack()

    def make(
        resource_overrides: dict | None = None, env: dict[str, str] | None = None, **sandbox_config: object
    ) -> Cli:
        sandbox = start_sandbox(**sandbox_config)
        settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data"), **(env or {})})
        resource = sandbox_resource(
            sandbox, rate_limit_store=settings.rate_limit_store, **(resource_overrides or {})
        )
        instance = stack.enter_context(DagsterInstance.ephemeral())
        return Cli(sandbox, settings, build_definitions(settings, {"usertesting": resource}), instance)

    with stack:
        yield make

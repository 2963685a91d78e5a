"""A whole pipeline for tests: sandbox API -> Dagster runs (real instance) -> DuckDB file + local landing area.

The sandbox answers in process (`sandbox_resource`): the real client, limiter and retries, no socket.
"""

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, Definitions

from dagster_usertesting.testing import SandboxServer
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


@dataclass
class Pipeline:
    sandbox: SandboxServer
    settings: Settings
    defs: Definitions
    instance: DagsterInstance

    def sync(self, test_ids: list[str] | None = None, **kwargs: object) -> int:
        return run_sync(test_ids or self.sandbox.test_ids, defs=self.defs, instance=self.instance, **kwargs)

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.settings.duckdb_path), read_only=True) as connection:
            return connection.sql(sql).df()

    def table(self, name: str, test_id: str | None = None) -> pd.DataFrame:
        where = f" where test_id = '{test_id}'" if test_id else ""
        return self.query(f"select * from usertesting.{name}{where}")

    def api_requests(self, path_part: str = "") -> list[dict]:
        return [r for r in self.sandbox.requests if path_part in r["path"]]


@pytest.fixture
def make_pipeline(tmp_path, start_sandbox, sandbox_resource) -> Callable[..., Pipeline]:
    stack = ExitStack()

    def make(
        env: dict[str, str] | None = None, api: dict[str, Any] | None = None, **sandbox_config: object
    ) -> Pipeline:
        """`env`: more UT_* settings; `api`: UserTestingResource settings; the rest configures the sandbox."""
        sandbox = start_sandbox(**sandbox_config)
        settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data"), **(env or {})})
        resource = sandbox_resource(sandbox, rate_limit_store=settings.rate_limit_store, **(api or {}))
        # Entered as a context manager: Dagster keeps the current instance's state storage in a
        # context variable, which must not point at another test's disposed instance.
        instance = stack.enter_context(DagsterInstance.ephemeral())
        defs = build_definitions(settings, {"usertesting": resource})
        # Loaded now, while the current instance is this one: loading reads the current instance's
        # definitions state, and a later load could find another test's disposed instance there.
        defs.get_repository_def()
        return Pipeline(sandbox, settings, defs, instance)

    with stack:
        yield make

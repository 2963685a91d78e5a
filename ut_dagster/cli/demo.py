"""`ut-dagster demo`: the whole pipeline end to end against the bundled sandbox, into DuckDB.

The sandbox runs with a faster rate limit than the real API (20 requests a second instead of 10 a
minute) so the demo takes seconds; everything else is the production code path.
"""

from __future__ import annotations

import dataclasses

import duckdb

from dagster_usertesting.lib.schema import ALL_TABLES, SCHEMA
from dagster_usertesting.settings import UserTestingSettings
from dagster_usertesting.testing import SandboxConfig, SandboxServer
from ut_dagster.environment import Settings

DEMO_RATE = {"requests_per_window": 20, "window_seconds": 1.0}


def run_demo(build_dbt: bool = True) -> int:
    with SandboxServer(SandboxConfig(**DEMO_RATE)) as sandbox:
        configured = Settings.from_env()
        settings = dataclasses.replace(configured, usertesting=sandbox_api(configured.usertesting, sandbox))
        print(f"Sandbox API at {sandbox.url} with tests: {', '.join(sandbox.test_ids)}")
        print(f"Warehouse: {settings.duckdb_path}\nLanding area: {settings.object_store}\n")

        from ut_dagster.cli.sync import refresh_test_list, run_sync

        refresh_test_list(settings)  # titles for run tags, the marts and the alerts
        code = run_sync(sandbox.test_ids, settings=settings)
        print(f"\nThe sandbox served {len(sandbox.requests)} API requests in this demo.\n")
    print_tables(settings)
    if code == 0 and build_dbt:
        from ut_dagster.cli.marts_demo import build_and_print_marts

        code = build_and_print_marts(settings)
    return code


def sandbox_api(configured: UserTestingSettings, sandbox: SandboxServer) -> UserTestingSettings:
    """The user's USERTESTING_* settings, asking the sandbox with its own credential at the demo's pace."""
    # A ready-made token would win over the client credential, and the sandbox did not issue it.
    kept = {name: value for name, value in configured.fields.items() if name != "access_token"}
    return UserTestingSettings(
        {
            **kept,
            "base_url": sandbox.url,
            "token_url": sandbox.token_url,
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "requests_per_minute": str(DEMO_RATE["requests_per_window"]),
            "rate_window_seconds": str(DEMO_RATE["window_seconds"]),
        }
    )


def print_tables(settings: Settings, sample_rows: int = 3) -> None:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        for name in ALL_TABLES:
            exists = db.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [SCHEMA, name],
            ).fetchall()[0][0]
            if not exists:
                continue
            count = db.execute(f"select count(*) from {SCHEMA}.{name}").fetchall()[0][0]
            print(f"== {SCHEMA}.{name}: {count} rows")
            sample = db.execute(f"select * from {SCHEMA}.{name} limit {sample_rows}").df()
            with_text = sample.map(lambda v: v[:40] + "…" if isinstance(v, str) and len(v) > 40 else v)
            print(with_text.to_string(index=False, max_colwidth=42) if len(sample) else "(empty)")
            print()

"""The Resources page: each resource described in one line a user understands, not a docstring."""

import pytest

from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


@pytest.mark.parametrize("warehouse", ["duckdb", "snowflake"])
def test_every_resource_is_described_in_one_line(warehouse, tmp_path, monkeypatch):
    env = {"UT_DATA_DIR": str(tmp_path)}
    if warehouse == "snowflake":
        for name in ("ACCOUNT", "USER", "DATABASE", "PASSWORD"):
            monkeypatch.setenv(f"SNOWFLAKE_{name}", "example")
        env |= {"UT_WAREHOUSE": "snowflake", "UT_OBJECT_STORE": "s3://bucket/ut"}
    # What the UI's Resources page shows (the code location's resource snapshots are built from it).
    resources = build_definitions(Settings.from_env(env)).get_repository_def().get_top_level_resources()
    assert {"usertesting", "object_store", "io_manager", "sync_settings", "warehouse", "dbt"} <= set(
        resources
    )
    described = {name: (resource.description or "") for name, resource in resources.items()}
    multi_line = {name: text for name, text in described.items() if "\n" in text.strip()}
    assert multi_line == {}
    assert all(described.values()), described
    # Not the code's vocabulary: module names, class names, docstring markup.
    jargon = ("io_manager.py", "schema.py", "DbtCliResource", "code-block", "Examples:")
    assert {name: text for name, text in described.items() if any(j in text for j in jargon)} == {}

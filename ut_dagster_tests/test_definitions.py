"""The code location as a user deploys it: everything loads, and the UI names where data lives."""

from dagster import AssetKey

from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


def _kinds(settings: Settings, name: str) -> set[str]:
    defs = build_definitions(settings)
    return set(
        defs.resolve_assets_def(AssetKey(["usertesting", name]))
        .specs_by_key[AssetKey(["usertesting", name])]
        .kinds
    )


def test_tables_and_videos_show_the_configured_warehouse_and_store(tmp_path, monkeypatch):
    local = Settings.from_env({"UT_DATA_DIR": str(tmp_path)})
    assert {"duckdb"} <= _kinds(local, "tasks") and "snowflake" not in _kinds(local, "tasks")
    assert {"duckdb", "file"} <= _kinds(local, "session_videos") and "s3" not in _kinds(
        local, "session_videos"
    )

    for name in ("ACCOUNT", "USER", "DATABASE", "PASSWORD"):
        monkeypatch.setenv(f"SNOWFLAKE_{name}", "example")
    production = Settings.from_env(
        {"UT_DATA_DIR": str(tmp_path), "UT_WAREHOUSE": "snowflake", "UT_OBJECT_STORE": "s3://bucket/ut"}
    )
    assert "snowflake" in _kinds(production, "raw_sessions")
    assert {"snowflake", "s3"} <= _kinds(production, "session_videos")

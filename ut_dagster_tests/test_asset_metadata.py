"""What the UI shows of each UserTesting table beside its data: kinds and definition metadata."""

import pytest
from dagster import AssetKey

from dagster_usertesting.lib.schema import ALL_TABLES, SCHEMA
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


@pytest.fixture(scope="module")
def table_specs(tmp_path_factory):
    defs = build_definitions(Settings.from_env({"UT_DATA_DIR": str(tmp_path_factory.mktemp("data"))}))
    graph = defs.resolve_asset_graph()
    specs = {key: graph.get(key) for key in (AssetKey([SCHEMA, name]) for name in ALL_TABLES)}
    assert all(node is not None for node in specs.values())
    return specs


def test_every_usertesting_table_carries_the_usertesting_kind(table_specs):
    # Tables normalized from a response (tasks from session details) are UserTesting data too.
    missing = sorted(key.path[-1] for key, node in table_specs.items() if "usertesting" not in node.kinds)
    assert missing == []


def test_no_io_manager_convention_is_shown_as_metadata(table_specs):
    # partition_expr is read by Dagster's own DB IO managers only; ours partitions by test_id itself.
    shown = {key.path[-1]: sorted(node.metadata) for key, node in table_specs.items()}
    assert {name: keys for name, keys in shown.items() if "partition_expr" in keys} == {}
    assert all({"dagster/table_name", "dagster/column_schema"} <= set(keys) for keys in shown.values())


def test_lineage_shows_each_table_under_the_payload_it_is_parsed_from(table_specs):
    # A user tracing `tasks` back should land on the session payloads it is parsed from, not on the
    # listing; transcript_chunks are cut from transcripts.
    parents = {
        key.path[-1]: sorted(p.path[-1] for p in node.parent_keys)
        for key, node in table_specs.items()
        if key.path[-1] in {"sessions", "demographics", "task_groups", "tasks", "transcript_chunks"}
    }
    assert parents == {
        "sessions": ["session_details"],
        "demographics": ["session_details"],
        "task_groups": ["session_details"],
        "tasks": ["session_details"],
        "transcript_chunks": ["transcripts"],
    }
    assert [p.path[-1] for p in table_specs[AssetKey([SCHEMA, "session_details"])].parent_keys] == [
        "raw_sessions"
    ]

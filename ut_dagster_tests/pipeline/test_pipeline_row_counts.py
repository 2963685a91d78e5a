"""Row counts as the UI shows them, after real syncs into a real DuckDB file.

Dagster's `dagster/row_count` is the table's rows (the asset's "Row count"), and
`dagster/partition_row_count` the partition's: here a table holds every test, a partition one test.
"""

import io
import re

import dagster as dg

from dagster_usertesting.lib.schema import SCHEMA


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, test_id: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[test_id]), limit=1
    ).records
    assert records, f"{key.to_user_string()} has no materialization of {test_id}"
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_row_count_is_the_table_and_partition_row_count_the_test_after_two_tests(make_pipeline):
    pipeline = make_pipeline()
    first, second = pipeline.sandbox.test_ids[:2]
    assert pipeline.sync([first]) == 0
    printed = io.StringIO()
    assert pipeline.sync([second], out=printed) == 0

    # Every warehouse table the sync writes: the assets that name their table.
    tables = {
        node.key: node.metadata["dagster/table_name"].split(".")[-1]
        for node in pipeline.defs.resolve_asset_graph().asset_nodes
        if node.key.path[0] == SCHEMA
        and node.partitions_def is not None
        and "dagster/table_name" in node.metadata
    }
    written = {key for key in tables if pipeline.instance.get_latest_materialization_event(key) is not None}
    assert {key.path[-1] for key in written} >= {"raw_sessions", "sessions", "tasks", "transcript_chunks"}

    for key in written:
        table = tables[key]
        total = int(pipeline.query(f"select count(*) from {SCHEMA}.{table}").iloc[0, 0])
        latest = pipeline.instance.get_latest_materialization_event(key).asset_materialization
        assert latest.partition == second
        assert latest.metadata["dagster/row_count"].value == total, table
        for test_id in (first, second):
            metadata = _latest(pipeline.instance, key, test_id)
            assert metadata.get("dagster/partition_row_count") == len(pipeline.table(table, test_id)), table
    # Not trivially equal: the second test's write left the first test's rows in the table.
    tasks = dg.AssetKey([SCHEMA, "tasks"])
    assert len(pipeline.table("tasks", first)) > 0
    assert _latest(pipeline.instance, tasks, second)["dagster/row_count"] > len(
        pipeline.table("tasks", second)
    )

    # `ut-dagster sync` prints what it wrote of the test it synced, not the table's total.
    summary = dict(re.findall(r"usertesting/(\w+) +rows= *(\d+)", printed.getvalue()))
    assert int(summary["tasks"]) == len(pipeline.table("tasks", second))

"""The registered tests at a glance, by title: the table `usertesting/tests` shows in its metadata.

Partition keys are UUIDs; this names each registered test and says how it is doing: its title and
kind (from the test list), the sessions the warehouse holds, when its listing was last synced, how
far behind the warehouse is (freshness.py) and one status (stopped, failing, never synced, stale,
late or fresh).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dagster import DagsterInstance, MetadataValue, TableColumn, TableMetadataValue, TableRecord, TableSchema

from dagster_usertesting.defs.freshness import FreshnessLimits, judge, observe, status_of
from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.runs import failure_streak_of
from dagster_usertesting.lib.warehouse import WarehouseClient

SCHEMA = TableSchema(
    columns=[
        TableColumn("title", "string", "The test's title, from the test list."),
        TableColumn("test_id", "string", "The test's ID: its partition key."),
        TableColumn("product_type", "string", "Kind of research (THINK_OUT_LOUD, ...)."),
        TableColumn("sessions", "int", "Sessions the warehouse's sessions table holds."),
        TableColumn("last_sync", "string", "When the test's listing was last synced (UTC)."),
        TableColumn("lag", "string", "How far behind the warehouse is (see fresh_in_warehouse)."),
        TableColumn("status", "string", "stopped, failing, never synced, stale, late or fresh, and why."),
    ]
)


def registered_tests_table(
    instance: DagsterInstance,
    warehouse: WarehouseClient,
    listed: Mapping[str, Mapping[str, Any]],
    limits: FreshnessLimits,
    max_failed_runs: int,
    now: datetime,
) -> TableMetadataValue:
    """One record per registered test; `listed`: test list rows by lower-cased test ID."""
    tests = sorted(instance.get_dynamic_partitions(test_partitions.name))
    seen = observe(instance, warehouse, tests)
    records = []
    for test_id in tests:
        row = listed.get(test_id.lower(), {})
        judgement = judge(seen[test_id], now, limits)
        status, why = status_of(
            judgement, failure_streak_of(instance, test_id, max_failed_runs), max_failed_runs
        )
        last_sync = seen[test_id].last_sync
        records.append(
            TableRecord(
                {
                    "title": row.get("title") or "(not in the test list)",
                    "test_id": test_id,
                    "product_type": row.get("product_type") or "",
                    "sessions": seen[test_id].held,
                    "last_sync": last_sync.strftime("%Y-%m-%d %H:%M") if last_sync else "never",
                    "lag": _duration(judgement.lag),
                    "status": f"{status}: {why}" if why and why != status else status,
                }
            )
        )
    # Untitled tests last, the rest by title: the order a reader looks for a test in.
    records.sort(key=lambda r: (r.data["title"].startswith("("), r.data["title"].lower(), r.data["test_id"]))
    return MetadataValue.table(records, SCHEMA)


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    minutes = delta.total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"

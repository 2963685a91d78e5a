"""A snapshot of every definition of the code location (assets, checks, jobs, sensors, schedules).

Compared with `__snapshots__/defs.json`, one entry per definition: a change to any of them, meant or not,
shows in review as a diff of that file. When the change is meant, rewrite it with

    UT_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q ut_dagster_tests/test_defs_snapshot.py

and commit the file with the change.

`ut_dagster.definitions.defs` is loaded as a fresh deployment loads it: in a new interpreter (this file,
run as a script), with the default (local) settings: no UT_*, USERTESTING_*, SNOWFLAKE_* variable or
DAGSTER_HOME of whoever runs the tests, the data in a temporary UT_DATA_DIR. A new interpreter, because
some settings are read when a module is imported (the sync jobs' `dagster/max_runtime` tag): in this
process they would be whatever the first importer's environment held. The dbt manifest is prepared by
conftest.py before the tests start.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT = Path(__file__).resolve().parent / "__snapshots__" / "defs.json"
UPDATE_VARIABLE = "UT_UPDATE_SNAPSHOTS"
UPDATE_COMMAND = f"{UPDATE_VARIABLE}=1 .venv/bin/python -m pytest -q ut_dagster_tests/test_defs_snapshot.py"
REPO = Path(__file__).resolve().parents[1]
# What the code location reads from the environment, with DAGSTER_HOME (UT_DATA_DIR is set anew).
SETTINGS_PREFIXES = ("UT_", "USERTESTING_", "SNOWFLAKE_")
KIND_TAG_PREFIX = "dagster/kind/"  # shown as `kinds` already
IMPLICIT_ASSET_JOB_PREFIX = "__ASSET_JOB"  # Dagster's own job of all assets, not one of ours


def test_every_definition_matches_the_committed_snapshot(tmp_path):
    actual = _load_code_location_snapshot(tmp_path)
    # Deterministic: no path of this run, no object address (a repr slipping in).
    assert str(tmp_path) not in actual and " at 0x" not in actual

    if os.environ.get(UPDATE_VARIABLE):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(actual, encoding="utf-8")
        return
    expected = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.relative_to(REPO)} (committed)",
                tofile="the code location now",
            )
        )
        pytest.fail(
            f"The definitions differ from {SNAPSHOT.relative_to(REPO)}: {_changed(expected, actual)}.\n"
            f"If the change is meant, rewrite the snapshot and commit it with the change:\n\n"
            f"    {UPDATE_COMMAND}\n\n{diff}",
            pytrace=False,
        )


def _changed(expected: str, actual: str) -> str:
    """The definitions added, removed or changed, by name (the diff's context may not show them)."""
    if not expected:
        return "no snapshot is committed"
    try:
        before = json.loads(expected)
    except ValueError:
        return "the committed snapshot is not JSON"
    after = json.loads(actual)
    changes = []
    for section in sorted(set(before) | set(after)):
        old, new = before.get(section, {}), after.get(section, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                change = "added" if name not in old else "removed" if name not in new else "changed"
                changes.append(f"{section} {name} {change}")
    return "; ".join(changes) or "formatting only"


def _load_code_location_snapshot(tmp_path: Path) -> str:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(SETTINGS_PREFIXES) and name != "DAGSTER_HOME"
    }
    env["UT_DATA_DIR"] = str(tmp_path / "data")
    out = tmp_path / "defs.json"
    result = subprocess.run(
        [sys.executable, __file__, str(out)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


def describe(defs: Any) -> dict[str, dict[str, Any]]:
    """Every definition of `defs` as plain, sorted JSON values, keyed by its name."""
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    return {
        "assets": {key.to_user_string(): _asset(graph.get(key)) for key in graph.get_all_asset_keys()},
        "asset_checks": {key.to_user_string(): _check(graph.get(key)) for key in graph.asset_check_keys},
        "jobs": {
            job.name: _job(job)
            for job in repository.get_all_jobs()
            if not job.name.startswith(IMPLICIT_ASSET_JOB_PREFIX)
        },
        "sensors": {sensor.name: _sensor(sensor, graph) for sensor in repository.sensor_defs},
        "schedules": {schedule.name: _schedule(schedule) for schedule in repository.schedule_defs},
    }


def _asset(node: Any) -> dict[str, Any]:
    condition = node.automation_condition
    return {
        "group": node.group_name,
        "kinds": sorted(node.kinds),
        "partitions": _partitions_name(node.partitions_def),
        "owners": sorted(node.owners),
        "tags": {k: v for k, v in node.tags.items() if not k.startswith(KIND_TAG_PREFIX)},
        "description": _first_line(node.description),
        "deps": sorted(key.to_user_string() for key in node.parent_keys),
        "automation_condition": (condition.get_label() or condition.name) if condition else None,
        "columns": _column_names(node.metadata.get("dagster/column_schema")),
    }


def _check(node: Any) -> dict[str, Any]:
    return {
        "asset": node.key.asset_key.to_user_string(),
        "name": node.key.name,
        "partitioned": node.partitions_def is not None,
        "blocking": node.blocking,
    }


def _job(job: Any) -> dict[str, Any]:
    layer = job.asset_layer
    assets = sorted(key.to_user_string() for key in layer.selected_asset_keys)
    checks = sorted(key.to_user_string() for key in layer.asset_graph.asset_check_keys)
    return {
        "assets": assets,
        "asset_checks": checks,
        # A job of ops (no asset or check): its ops.
        "ops": [] if assets or checks else sorted(job.graph.node_names()),
        "tags": dict(job.tags),
    }


def _sensor(sensor: Any, graph: Any) -> dict[str, Any]:
    selection = getattr(sensor, "asset_selection", None)
    return {
        "type": sensor.sensor_type.value,
        "default_status": sensor.default_status.value,
        "minimum_interval_seconds": sensor.minimum_interval_seconds,
        "jobs": sorted(target.job_name for target in sensor.targets),
        "assets": sorted(key.to_user_string() for key in selection.resolve(graph)) if selection else [],
    }


def _schedule(schedule: Any) -> dict[str, Any]:
    return {
        "cron": schedule.cron_schedule,
        "timezone": schedule.execution_timezone,
        "default_status": schedule.default_status.value,
        "job": schedule.job_name,
    }


def _partitions_name(partitions_def: Any) -> str | None:
    if partitions_def is None:
        return None
    return getattr(partitions_def, "name", None) or str(partitions_def)


def _first_line(text: str | None) -> str | None:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else None


def _column_names(schema: Any) -> list[str] | None:
    """Column names in their declared order (the table's own order); None without a column schema."""
    schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue or the TableSchema
    return [column.name for column in schema.columns] if schema is not None else None


def render(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    # The subprocess of the test: load the code location and write its snapshot to argv[1].
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral():  # loading definitions reads the current instance's state
        from ut_dagster.definitions import defs

        Path(sys.argv[1]).write_text(render(describe(defs)), encoding="utf-8")

"""`usertesting/{sessions,demographics,task_groups,tasks}`: the recipe's analysis tables.

Derived from the landed v3 payloads only (no API calls), so they can be rebuilt at any time, e.g.
after a normalization fix, without spending budget.
"""

import json

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    Output,
    multi_asset,
)

from ut_dagster.defs.usertesting.assets.common import (
    GROUP,
    KEY_PREFIX,
    failures_metadata,
    frame_metadata,
    partition_test_id,
    table_metadata,
)
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.lib.normalize import details_rows, to_frame
from ut_dagster.lib.schema import DEMOGRAPHICS, SESSIONS, TASK_GROUPS, TASKS

TABLES = (SESSIONS, DEMOGRAPHICS, TASK_GROUPS, TASKS)
SESSIONS_KEY = AssetKey([*KEY_PREFIX, SESSIONS.name])
TASKS_KEY = AssetKey([*KEY_PREFIX, TASKS.name])


@multi_asset(
    name="session_tables",
    partitions_def=test_partitions,
    group_name=GROUP,
    ins={"session_details": AssetIn(key=[*KEY_PREFIX, "session_details"])},
    outs={
        t.name: AssetOut(
            key_prefix=KEY_PREFIX, metadata=table_metadata(t), description=t.description, kinds={"python"}
        )
        for t in TABLES
    },
    check_specs=[
        AssetCheckSpec("one_row_per_session", asset=SESSIONS_KEY),
        AssetCheckSpec("every_task_has_its_session", asset=TASKS_KEY),
    ],
)
def session_tables(context: AssetExecutionContext, session_details: pd.DataFrame):
    test_id = partition_test_id(context)
    rows: dict[str, list[dict]] = {t.name: [] for t in TABLES}
    failures: dict[str, str] = {}
    for record in session_details.itertuples(index=False):
        try:
            tables = details_rows(
                test_id, record.session_id, json.loads(record.details_json), record.extracted_at
            )
        except ValueError as exc:
            failures[record.session_id] = str(exc)
            continue
        for name, table_rows in tables.items():
            rows[name].extend(table_rows)

    frames = {t.name: to_frame(t, rows[t.name]) for t in TABLES}
    for name, frame in frames.items():
        yield Output(
            frame, output_name=name, metadata={**frame_metadata(frame), **failures_metadata(failures)}
        )

    sessions, tasks = frames[SESSIONS.name], frames[TASKS.name]
    duplicated = sessions["session_id"][sessions["session_id"].duplicated()].tolist()
    yield AssetCheckResult(
        check_name="one_row_per_session",
        asset_key=SESSIONS_KEY,
        passed=not duplicated and len(sessions) == len(session_details),
        metadata={
            "sessions": len(sessions),
            "landed_payloads": len(session_details),
            "duplicated": duplicated[:20],
        },
    )
    orphans = sorted(set(tasks["session_id"]) - set(sessions["session_id"]))
    yield AssetCheckResult(
        check_name="every_task_has_its_session",
        asset_key=TASKS_KEY,
        passed=not orphans,
        metadata={"orphan_sessions": orphans[:20]},
    )

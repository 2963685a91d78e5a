"""Many sessions' rows (`session_rows`) to typed DataFrames of the five session tables.

Built column by column from the row tuples (`frame_from_tuples`): no dict per row, and timestamps
converted once per distinct value rather than per row. A sync writes these frames as they are;
bench/normalize_load.py measures the same calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dagster_usertesting.lib.normalize.details import SessionRows
from dagster_usertesting.lib.normalize.frames import frame_from_tuples
from dagster_usertesting.lib.schema import DEMOGRAPHICS, SESSION_DETAILS, SESSIONS, TASK_GROUPS, TASKS

# A sync writes a test's five tables in one transaction (lib/sync/details_step.py): once
# session_details holds a session, so does every table parsed from it, so it says what all five hold.
SESSION_TABLES = (SESSIONS, DEMOGRAPHICS, TASK_GROUPS, TASKS, SESSION_DETAILS)


def details_frames(sessions: Sequence[SessionRows]) -> dict[str, pd.DataFrame]:
    """The frame of each of SESSION_TABLES (by table name) holding these sessions' rows."""
    return {
        table.name: frame_from_tuples(table, [row for rows in sessions for row in rows[table.name]])
        for table in SESSION_TABLES
    }

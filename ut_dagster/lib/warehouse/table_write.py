"""What an asset hands the warehouse IO manager: the rows of the sessions that changed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ut_dagster.lib.schema import Table


@dataclass(frozen=True)
class TableWrite:
    table: Table
    rows: pd.DataFrame
    # None: replace the whole test partition with `rows`. A set: delete these sessions' rows, then
    # insert `rows` (all of them rows of these sessions), in one transaction.
    sessions: frozenset[str] | None = None

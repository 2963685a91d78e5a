"""The project's own way of writing normalized rows into DuckDB, for the benchmarks: the warehouse
client (`open_warehouse(settings)`, see INTERFACES.md), which the IO managers also write through.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Protocol

import pandas as pd

from ut_dagster.lib.schema import Table


class Writer(Protocol):
    kind: str

    def write(
        self, test_id: str, table: Table, rows: pd.DataFrame, sessions: frozenset[str] | None
    ) -> None: ...

    def write_many(
        self, test_id: str, rows: Mapping[Table, pd.DataFrame], sessions: frozenset[str] | None
    ) -> None: ...

    def read(self, table: Table, test_id: str) -> pd.DataFrame: ...


def warehouse_client_available() -> bool:
    try:
        from ut_dagster.lib.warehouse import TableWrite, open_warehouse  # noqa: F401
    except ImportError:
        return False
    return True


class _ClientWriter:
    kind = "WarehouseClient"

    def __init__(self, client) -> None:
        self._client = client

    def write(self, test_id: str, table: Table, rows: pd.DataFrame, sessions: frozenset[str] | None) -> None:
        from ut_dagster.lib.warehouse import TableWrite

        self._client.write(test_id, TableWrite(table=table, rows=rows, sessions=sessions))

    def write_many(
        self, test_id: str, rows: Mapping[Table, pd.DataFrame], sessions: frozenset[str] | None
    ) -> None:
        """Several tables of one test in one transaction (`WarehouseClient.write_many`)."""
        from ut_dagster.lib.warehouse import TableWrite

        self._client.write_many(test_id, [TableWrite(t, frame, sessions) for t, frame in rows.items()])

    def read(self, table: Table, test_id: str) -> pd.DataFrame:
        return self._client.read(table, test_id)


@contextmanager
def project_writer(duckdb_path: Path, *, one_connection: bool = False) -> Iterator[Writer]:
    """A writer into the DuckDB file at `duckdb_path` through the project's warehouse client.

    `one_connection`: every write goes through one connection (`with client:`), as a caller
    writing many tables in a row does; otherwise each write connects and disconnects, as the IO
    manager's writes (one per asset output) do.
    """
    from ut_dagster.environment import Settings
    from ut_dagster.lib.warehouse import open_warehouse

    settings = Settings.from_env(
        {"UT_DUCKDB_PATH": str(duckdb_path), "UT_DATA_DIR": str(duckdb_path.parent), "UT_WAREHOUSE": "duckdb"}
    )
    client = open_warehouse(settings)
    with client if one_connection else nullcontext():
        yield _ClientWriter(client)

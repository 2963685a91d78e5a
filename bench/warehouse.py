"""The project's own way of writing normalized rows into DuckDB, for the benchmarks.

Prefers the warehouse client (`open_warehouse(...).write(test_id, TableWrite)`, see INTERFACES.md);
until that exists, does what the DuckDB IO manager's `handle_output` does for a partition: create
schema and table from schema.py, check and type the frame (`frame_for_write`), delete the
partition and insert, in one transaction.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from ut_dagster.lib.schema import SCHEMA, Table


class Writer(Protocol):
    kind: str

    def write(
        self, test_id: str, table: Table, rows: pd.DataFrame, sessions: frozenset[str] | None
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

    def __init__(self, client: Any) -> None:
        from ut_dagster.lib.warehouse import TableWrite

        self._client = client
        self._table_write = TableWrite

    def write(self, test_id: str, table: Table, rows: pd.DataFrame, sessions: frozenset[str] | None) -> None:
        self._client.write(test_id, self._table_write(table=table, rows=rows, sessions=sessions))

    def read(self, table: Table, test_id: str) -> pd.DataFrame:
        return self._client.read(table, test_id)


class _IoManagerStepsWriter:
    """The DuckDB IO manager's write, without a Dagster context (replace-partition only)."""

    kind = "DuckDB IO manager steps (WarehouseClient not importable yet)"

    def __init__(self, path: Path) -> None:
        import duckdb

        self._connection = duckdb.connect(str(path))

    def write(self, test_id: str, table: Table, rows: pd.DataFrame, sessions: frozenset[str] | None) -> None:
        from ut_dagster.lib.warehouse.frames import frame_for_write

        from ut_dagster.lib.warehouse.ddl import create_schema_sql, create_table_sql, qualified_name

        con = self._connection
        frame = frame_for_write(table, rows)
        name = qualified_name(SCHEMA, table.name)
        con.begin()
        try:
            con.execute(create_schema_sql(SCHEMA))
            con.execute(create_table_sql(table, "duckdb", schema=SCHEMA))
            if sessions is None:
                con.execute(f"DELETE FROM {name} WHERE test_id = ?", [test_id])
            elif sessions:
                con.execute(
                    f"DELETE FROM {name} WHERE test_id = ? AND session_id IN (SELECT unnest(?))",
                    [test_id, sorted(sessions)],
                )
            con.register("ut_dagster_frame", frame)
            con.execute(f"INSERT INTO {name} SELECT * FROM ut_dagster_frame")
            con.unregister("ut_dagster_frame")
        except BaseException:
            con.rollback()
            raise
        con.commit()

    def read(self, table: Table, test_id: str) -> pd.DataFrame:
        from ut_dagster.lib.warehouse.ddl import qualified_name

        return self._connection.execute(
            f"SELECT * FROM {qualified_name(SCHEMA, table.name)} WHERE test_id = ?", [test_id]
        ).df()

    def close(self) -> None:
        self._connection.close()


@contextmanager
def project_writer(duckdb_path: Path) -> Iterator[Writer]:
    """A writer into the DuckDB file at `duckdb_path` through the project's code."""
    if warehouse_client_available():
        from ut_dagster.environment import Settings
        from ut_dagster.lib.warehouse import open_warehouse

        settings = Settings.from_env(
            {
                "UT_DUCKDB_PATH": str(duckdb_path),
                "UT_DATA_DIR": str(duckdb_path.parent),
                "UT_WAREHOUSE": "duckdb",
            }
        )
        parameters = inspect.signature(open_warehouse).parameters
        client = open_warehouse(settings) if parameters else open_warehouse()
        try:
            yield _ClientWriter(client)
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()
        return
    writer = _IoManagerStepsWriter(duckdb_path)
    try:
        yield writer
    finally:
        writer.close()

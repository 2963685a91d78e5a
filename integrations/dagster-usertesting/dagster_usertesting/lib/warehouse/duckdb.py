"""The DuckDB warehouse: a local file, written one transaction per call.

DuckDB lets one process at a time open a file for writing. Steps of concurrent runs take turns
(a lock held by another step is waited for, up to `lock_timeout_s`); a lock held longer, typically
by a BI tool or a notebook keeping the file open, fails the write with WarehouseUnavailableError.

This module must not import anything Snowflake: `import dagster_snowflake` costs ~10 s.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from pydantic import Field

from dagster_usertesting.lib.normalize.frames import empty_frame, typed_frame
from dagster_usertesting.lib.schema import PARTITION_COLUMN, SCHEMA, SESSION_COLUMN, Table
from dagster_usertesting.lib.warehouse.base import (
    PreparedWrite,
    TableWrite,
    WarehouseClient,
    WarehouseUnavailableError,
    WriteResult,
    as_test_ids,
    count_sql,
    partition_filter,
    prepare_writes,
    tables_of_a_test,
)
from dagster_usertesting.lib.warehouse.ddl import column_list, create_table_sql, qualified_name
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager

_LOCKED = "Could not set lock"
_FRAME = "ut_dagster_rows"


class DuckDBWarehouse(WarehouseClient):
    def __init__(self, path: str | Path, lock_timeout_s: float = 60.0) -> None:
        self.path = Path(path).expanduser()
        self.lock_timeout_s = lock_timeout_s

    @property
    def description(self) -> str:
        return f"The DuckDB warehouse {self.path}"

    def write_many(self, test_id: str | None, writes: Sequence[TableWrite]) -> list[WriteResult]:
        prepared = prepare_writes(test_id, writes)
        with self._transaction() as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified_name(SCHEMA)}")
            return [_replace(conn, test_id, write) for write in prepared]

    def read(
        self, table: Table, test_id: str | Iterable[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        test_ids = as_test_ids(test_id)
        if not self.path.exists():
            return empty_frame(table, columns)
        with self._connection() as conn:
            if not _table_exists(conn, table.name):
                return empty_frame(table, columns)
            sql = f"SELECT {column_list(table, columns)} FROM {qualified_name(SCHEMA, table.name)}"
            if test_ids is None:
                frame = conn.execute(sql).df()
            else:
                sql += f" WHERE {PARTITION_COLUMN} IN (SELECT unnest(?::VARCHAR[]))"
                frame = conn.execute(sql, [test_ids]).df()
        return typed_frame(table, frame, from_warehouse=True) if columns is None else frame

    def delete_test(self, test_id: str, derived: Sequence[tuple[str, str]] = ()) -> dict[str, int]:
        tables = tables_of_a_test(derived)
        if not self.path.exists():
            return {}
        deleted: dict[str, int] = {}
        with self._transaction() as conn:
            for schema, table, key in tables:
                if _table_exists(conn, table, schema):
                    sql = f"DELETE FROM {qualified_name(schema, table)} WHERE {PARTITION_COLUMN} = ?"
                    deleted[key] = _count(conn.execute(sql, [test_id]))
        return deleted

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # One transaction: readers never see a partition deleted but not rewritten, and a failure
        # (or a kill) before COMMIT leaves the previous rows.
        with self._connection() as conn:
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as error:
                locked = _LOCKED in str(error)
                if locked and time.monotonic() + delay < deadline:
                    # Another step of this or a concurrent run is writing; they are short.
                    time.sleep(delay * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, 2.0)
                    continue
                raise self._unavailable(error, locked) from error

    def _unavailable(self, error: duckdb.IOException, locked: bool) -> WarehouseUnavailableError:
        detail = str(error).removeprefix("IO Error: ").split(" See also ")[0]
        if locked:
            return WarehouseUnavailableError(
                self.description,
                f"another process holds its lock (waited {self.lock_timeout_s:g} s): {detail}",
                "Close the program that has the file open (a BI tool, a notebook or a duckdb shell: "
                "DuckDB lets one process at a time open a file for writing), then run the sync again.",
            )
        return WarehouseUnavailableError(
            self.description,
            f"it cannot be opened: {detail}",
            "Check that the file and its folder are writable (UT_DUCKDB_PATH), then run the sync again.",
        )


def _replace(conn: duckdb.DuckDBPyConnection, test_id: str | None, prepared: PreparedWrite) -> WriteResult:
    """Inside the caller's transaction: create the table if missing, delete, insert, count the table
    and the test."""
    table = prepared.table
    name = qualified_name(SCHEMA, table.name)
    conn.execute(create_table_sql(table, "duckdb", name))
    where, params = partition_filter(test_id, "?")
    if prepared.sessions is None:
        deleted = conn.execute(f"DELETE FROM {name}{where}", params)
    else:
        deleted = conn.execute(
            f"DELETE FROM {name} WHERE {PARTITION_COLUMN} = ? "
            f"AND {SESSION_COLUMN} IN (SELECT unnest(?::VARCHAR[]))",
            [test_id, list(prepared.sessions)],
        )
    rows_deleted = _count(deleted)
    if len(prepared.frame):
        columns = column_list(table)
        conn.register(_FRAME, prepared.frame)
        conn.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {_FRAME}")
        # A held connection outlives the write: do not keep the frame alive with it. (After a
        # failed INSERT only a rollback is allowed; the next write's `register` replaces it.)
        conn.unregister(_FRAME)
    sql, params = count_sql(name, test_id, "?")
    return prepared.result(rows_deleted, conn.execute(sql, params).fetchone())


def _count(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0


def _table_exists(conn: duckdb.DuckDBPyConnection, name: str, schema: str = SCHEMA) -> bool:
    # DuckDB's identifiers are case-insensitive; the catalog keeps them as they were created.
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
        [schema, name],
    )
    return _count(found) > 0


# Writes schema.py tables, one test partition per write (see io_manager.py).
class UserTestingDuckDBIOManager(WarehouseIOManager):
    """Writes the synced UserTesting tables into the local DuckDB warehouse file, one test at a time."""

    database: str = Field(description="Path of the DuckDB file; it and its folder are created on first use.")
    lock_timeout_s: float = Field(
        default=60.0,
        description="How long a write waits for another process to release the file before failing.",
    )

    def client(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(self.database, self.lock_timeout_s)


def duckdb_io_manager(path: str | Path, lock_timeout_s: float = 60.0) -> UserTestingDuckDBIOManager:
    """The IO manager for a DuckDB file at `path` (its folder is created on first use)."""
    return UserTestingDuckDBIOManager(database=str(Path(path).expanduser()), lock_timeout_s=lock_timeout_s)

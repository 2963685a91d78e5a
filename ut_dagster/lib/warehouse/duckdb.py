"""DuckDB IO manager whose tables come from schema.py instead of from the first DataFrame written.

How the library writes (dagster/_core/storage/db_io_manager.py, DbIOManager.handle_output): one
connection; `db_client.ensure_schema_exists`; `db_client.delete_table_slice` (`DELETE FROM
schema.table WHERE test_id in ('...')` for a partition, so a rewrite never duplicates and other
partitions stay); then the type handler. dagster_duckdb_pandas's handler skips empty frames (so an
empty first write creates no table) and otherwise runs `create table if not exists ... as select *
from obj`, falling back to `insert into ... select * from obj`: an insert by column position.

Here `ensure_schema_exists` also creates the table from schema.py, the handler inserts by position
into that table (safe: frames are checked to have the table's columns in order; empty frames are a
no-op insert), and the whole write is one transaction. Tables not in schema.py keep the library's
behaviour.

This module must not import anything Snowflake: `import dagster_snowflake` costs ~10 s.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import InputContext, OutputContext
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler

from ut_dagster.lib.warehouse.ddl import create_table_sql, qualified_name, table_named
from ut_dagster.lib.warehouse.frames import frame_for_write, frame_from_load, output_metadata


class UsertestingDuckDbClient(DuckDbClient):
    """DuckDbClient that also creates project-owned tables, and writes a partition in one transaction."""

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection: Any) -> None:
        DuckDbClient.ensure_schema_exists(context, table_slice, connection)
        table = table_named(table_slice.table)
        if table is not None:
            connection.execute(create_table_sql(table, "duckdb", schema=table_slice.schema))

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection: Any) -> None:
        # The library runs the DELETE and ignores the missing-table error, but inside our transaction
        # a failed statement aborts everything after it: check first (only tables outside
        # schema.py can be missing here, ours were just created).
        exists = connection.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
            [table_slice.schema, table_slice.table],
        ).fetchone()
        if exists and exists[0]:
            DuckDbClient.delete_table_slice(context, table_slice, connection)

    @staticmethod
    @contextmanager
    def connect(context: OutputContext | InputContext, table_slice: TableSlice) -> Iterator[Any]:
        # Schema + table creation, the partition delete and the insert share this connection. One
        # transaction means readers never see a partition deleted but not yet rewritten, and a
        # failed insert (a value the column type refuses) leaves the previous rows in place.
        with DuckDbClient.connect(context, table_slice) as conn:
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                # The library closes the connection only on success; a connection left open would
                # keep the database file locked for the rest of this process.
                conn.close()
                raise
            conn.commit()


class UsertestingDuckDBPandasTypeHandler(DuckDBPandasTypeHandler):
    """Checks columns before the positional insert and gives loads the dtypes the assets produce."""

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection: Any
    ) -> None:
        table = table_named(table_slice.table)
        if table is None:
            super().handle_output(context, table_slice, obj, connection)
            return
        frame = frame_for_write(table, obj)
        # The table exists (ensure_schema_exists created it), so this is the library's positional
        # insert, made safe by frame_for_write's column check. Unlike the library it also runs for an
        # empty frame: a no-op rather than a warning that no table will be created.
        connection.register("ut_dagster_frame", frame)
        try:
            connection.execute(
                f"INSERT INTO {qualified_name(table_slice.schema, table.name)} SELECT * FROM ut_dagster_frame"
            )
        finally:
            connection.unregister("ut_dagster_frame")
        context.add_output_metadata(output_metadata(context, frame, "duckdb"))

    def load_input(self, context: InputContext, table_slice: TableSlice, connection: Any) -> pd.DataFrame:
        frame = super().load_input(context, table_slice, connection)
        table = table_named(table_slice.table)
        return frame if table is None else frame_from_load(table, frame, table_slice.columns)


class UsertestingDuckDBIOManager(DuckDBPandasIOManager):
    """DuckDBPandasIOManager with project-owned DDL; schema = asset key prefix, table = last component."""

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [UsertestingDuckDBPandasTypeHandler()]

    def create_io_manager(self, context: Any) -> DbIOManager:
        if self.database != ":memory:" and not self.database.startswith("md:"):
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        return DbIOManager(
            db_client=UsertestingDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="UsertestingDuckDBIOManager",
        )


def duckdb_io_manager(path: str | Path) -> UsertestingDuckDBIOManager:
    """The IO manager for a DuckDB file at `path` (its folder is created on first use)."""
    return UsertestingDuckDBIOManager(database=str(Path(path).expanduser()))

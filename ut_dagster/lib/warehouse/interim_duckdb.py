"""INTERIM (replaced by the warehouse rewrite): a public-API DuckDB IO manager for TableWrite."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext

from ut_dagster.lib.schema import SCHEMA
from ut_dagster.lib.warehouse.ddl import create_table_sql, qualified_name, table_named
from ut_dagster.lib.warehouse.frames import frame_for_write, frame_from_load
from ut_dagster.lib.warehouse.table_write import TableWrite


class InterimDuckDBIOManager(ConfigurableIOManager):
    database: str

    def handle_output(self, context: OutputContext, obj: TableWrite | pd.DataFrame) -> None:
        table = table_named(context.asset_key.path[-1])
        write = obj if isinstance(obj, TableWrite) else TableWrite(table, obj, None)
        test_id = context.partition_key
        frame = frame_for_write(table, write.rows)
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        name = qualified_name(SCHEMA, table.name)
        with duckdb.connect(self.database) as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            con.execute(create_table_sql(table, "duckdb", schema=SCHEMA))
            con.begin()
            if write.sessions is None:
                deleted = con.execute(f"DELETE FROM {name} WHERE test_id = ?", [test_id]).fetchone()[0]
            elif write.sessions:
                con.execute("CREATE TEMP TABLE _s (session_id VARCHAR)")
                con.executemany("INSERT INTO _s VALUES (?)", [[s] for s in write.sessions])
                deleted = con.execute(
                    f"DELETE FROM {name} WHERE test_id = ? AND session_id IN (SELECT session_id FROM _s)",
                    [test_id],
                ).fetchone()[0]
            else:
                deleted = 0
            con.register("_frame", frame)
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _frame")
            con.commit()
            total = con.execute(f"SELECT count(*) FROM {name} WHERE test_id = ?", [test_id]).fetchone()[0]
        context.add_output_metadata(
            {"dagster/row_count": total, "rows_inserted": len(frame), "rows_deleted": deleted}
        )

    def load_input(self, context: InputContext) -> pd.DataFrame:
        table = table_named(context.asset_key.path[-1])
        with duckdb.connect(self.database, read_only=True) as con:
            frame = con.execute(
                f"SELECT * FROM {qualified_name(SCHEMA, table.name)} WHERE test_id = ?",
                [context.partition_key],
            ).df()
        return frame_from_load(table, frame)

"""UsertestingDuckDBIOManager through real Dagster materializations into a DuckDB file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pytest

from ut_dagster.lib.schema import ALL_TABLES, TASKS
from ut_dagster.lib.warehouse import create_table_sql, duckdb_io_manager
from ut_dagster.lib.warehouse.frames import FrameColumnsError


def _materialize(kit: SimpleNamespace, db: Path, instance: Any, frames: dict, partition: str, loaded=None):
    assets = kit.build_assets(frames, {} if loaded is None else loaded)
    selection = assets if loaded is not None else assets[:1]
    return dg.materialize(
        selection,
        partition_key=partition,
        instance=instance,
        resources={"io_manager": duckdb_io_manager(db)},
        raise_on_error=True,
    )


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_empty_first_write_creates_table_with_project_types(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "nested" / "folder" / "warehouse.duckdb"  # parent folders do not exist yet
    empty = kit.tasks_frame(kit.TEST_A, 0)
    _materialize(kit, db, instance, {kit.TEST_A: empty}, kit.TEST_A)

    columns = _rows(
        db,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'usertesting' AND table_name = 'tasks' ORDER BY ordinal_position",
    )
    expected_types = {"string": "VARCHAR", "json": "VARCHAR", "timestamp": "TIMESTAMP", "bigint": "BIGINT"}
    expected_types |= {"double": "DOUBLE", "boolean": "BOOLEAN"}
    assert columns == [(c.name, expected_types[c.type]) for c in TASKS.columns]
    assert _rows(db, "SELECT count(*) FROM usertesting.tasks") == [(0,)]


def test_rewriting_a_partition_replaces_it_and_leaves_others(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    frames = {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 3), kit.TEST_B: kit.tasks_frame(kit.TEST_B, 2)}
    _materialize(kit, db, instance, frames, kit.TEST_A)
    _materialize(kit, db, instance, frames, kit.TEST_B)
    _materialize(kit, db, instance, frames, kit.TEST_A)  # rewrite: no duplicates
    counts = "SELECT test_id, count(*) FROM usertesting.tasks GROUP BY 1 ORDER BY 1"
    assert _rows(db, counts) == sorted([(kit.TEST_A, 3), (kit.TEST_B, 2)])

    frames[kit.TEST_A] = kit.tasks_frame(kit.TEST_A, 1)  # the test now has fewer sessions
    _materialize(kit, db, instance, frames, kit.TEST_A)
    assert _rows(db, counts) == sorted([(kit.TEST_A, 1), (kit.TEST_B, 2)])

    frames[kit.TEST_B] = kit.tasks_frame(kit.TEST_B, 0)  # an empty partition clears its rows
    _materialize(kit, db, instance, frames, kit.TEST_B)
    assert _rows(db, counts) == [(kit.TEST_A, 1)]


def test_downstream_asset_loads_its_partition_with_asset_dtypes(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    frames = {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 4), kit.TEST_B: kit.tasks_frame(kit.TEST_B, 2)}
    loaded: dict[str, pd.DataFrame] = {}
    _materialize(kit, db, instance, frames, kit.TEST_B, loaded)
    _materialize(kit, db, instance, frames, kit.TEST_A, loaded)
    kit.assert_same_frame(loaded[kit.TEST_A], frames[kit.TEST_A])
    kit.assert_same_frame(loaded[kit.TEST_B], frames[kit.TEST_B])

    # An empty partition loads as an empty frame with the same columns and dtypes.
    frames[kit.TEST_A] = kit.tasks_frame(kit.TEST_A, 0)
    _materialize(kit, db, instance, frames, kit.TEST_A, loaded)
    kit.assert_same_frame(loaded[kit.TEST_A], frames[kit.TEST_A])


def test_frame_with_wrong_column_order_is_refused_and_old_rows_kept(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    good = kit.tasks_frame(kit.TEST_A, 2)
    _materialize(kit, db, instance, {kit.TEST_A: good}, kit.TEST_A)
    swapped = good[[good.columns[1], good.columns[0], *good.columns[2:]]]
    with pytest.raises(FrameColumnsError, match="wrong order"):
        _materialize(kit, db, instance, {kit.TEST_A: swapped}, kit.TEST_A)
    # The partition delete ran in the same transaction as the failed write, so it was rolled back.
    assert _rows(db, "SELECT count(*) FROM usertesting.tasks") == [(2,)]


def test_tables_not_in_tables_py_keep_library_behaviour(instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"

    @dg.asset(key=["scratch", "notes"])
    def notes() -> pd.DataFrame:
        return pd.DataFrame({"b": [1], "a": ["x"]})

    dg.materialize([notes], instance=instance, resources={"io_manager": duckdb_io_manager(db)})
    # Created from the frame by the library, columns in the frame's order.
    assert _rows(db, "SELECT * FROM scratch.notes") == [(1, "x")]


def test_every_table_ddl_runs_in_duckdb() -> None:
    with duckdb.connect() as conn:
        conn.execute("CREATE SCHEMA usertesting")
        for table in ALL_TABLES.values():
            conn.execute(create_table_sql(table, "duckdb"))
            conn.execute(create_table_sql(table, "duckdb"))  # idempotent
            names = [r[0] for r in conn.execute(f"DESCRIBE usertesting.{table.name}").fetchall()]
            assert names == table.column_names

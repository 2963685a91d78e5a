"""The DuckDB warehouse through real Dagster materializations into a DuckDB file, and directly."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pytest

from dagster_usertesting.lib.normalize.frames import FrameColumnsError, empty_frame, to_frame
from dagster_usertesting.lib.schema import ALL_TABLES, QX_SCORES, SESSIONS, TASKS, column_schema
from dagster_usertesting.lib.warehouse import (
    TableWrite,
    WarehouseUnavailableError,
    duckdb_io_manager,
    open_warehouse,
)
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse
from ut_dagster.environment import Settings

COUNTS = "SELECT test_id, count(*) FROM usertesting.tasks GROUP BY 1 ORDER BY 1"


def _materialize(
    kit: SimpleNamespace, db: Path, instance: Any, frames: dict, partition: str, loaded=None, **manager
):
    assets = kit.build_assets(frames, {} if loaded is None else loaded)
    selection = assets if loaded is not None else assets[:1]
    return dg.materialize(
        selection,
        partition_key=partition,
        instance=instance,
        resources={"io_manager": duckdb_io_manager(db, **manager)},
        raise_on_error=True,
    )


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _write_metadata(result: dg.ExecuteInJobResult) -> dict[str, Any]:
    [materialization] = result.asset_materializations_for_node("usertesting__tasks")
    return {k: v.value for k, v in materialization.metadata.items()}


def test_empty_first_write_creates_table_with_project_types(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "nested" / "folder" / "warehouse.duckdb"  # parent folders do not exist yet
    result = _materialize(kit, db, instance, {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 0)}, kit.TEST_A)
    assert _write_metadata(result) == {
        "dagster/row_count": 0,
        "dagster/partition_row_count": 0,  # not missing: an empty test is counted too
        "rows_inserted": 0,
        "rows_deleted": 0,
    }

    columns = _rows(
        db,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'usertesting' AND table_name = 'tasks' ORDER BY ordinal_position",
    )
    expected_types = {"string": "VARCHAR", "json": "VARCHAR", "timestamp": "TIMESTAMP", "bigint": "BIGINT"}
    expected_types |= {"double": "DOUBLE", "boolean": "BOOLEAN"}
    assert columns == [
        (c.name, expected_types[c.type], "YES" if c.name not in ("test_id", "session_id") else "NO")
        for c in TASKS.columns
    ]
    assert _rows(db, "SELECT count(*) FROM usertesting.tasks") == [(0,)]


def test_rewriting_a_partition_replaces_it_and_leaves_others(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    frames = {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 3), kit.TEST_B: kit.tasks_frame(kit.TEST_B, 2)}
    _materialize(kit, db, instance, frames, kit.TEST_A)
    _materialize(kit, db, instance, frames, kit.TEST_B)
    result = _materialize(kit, db, instance, frames, kit.TEST_A)  # rewrite: no duplicates
    assert _rows(db, COUNTS) == sorted([(kit.TEST_A, 3), (kit.TEST_B, 2)])
    assert _write_metadata(result) == {
        "dagster/row_count": 5,  # the table: both tests
        "dagster/partition_row_count": 3,
        "rows_inserted": 3,
        "rows_deleted": 3,
    }

    frames[kit.TEST_A] = kit.tasks_frame(kit.TEST_A, 1)  # the test now has fewer sessions
    _materialize(kit, db, instance, frames, kit.TEST_A)
    assert _rows(db, COUNTS) == sorted([(kit.TEST_A, 1), (kit.TEST_B, 2)])

    frames[kit.TEST_B] = kit.tasks_frame(kit.TEST_B, 0)  # an empty partition clears its rows
    _materialize(kit, db, instance, frames, kit.TEST_B)
    assert _rows(db, COUNTS) == [(kit.TEST_A, 1)]


def test_session_write_replaces_only_those_sessions(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    first = datetime(2024, 5, 1)
    held = kit.tasks_frame(kit.TEST_A, 0, sessions=kit.session_ids(10), extracted_at=first)
    frames: dict[str, Any] = {kit.TEST_A: held, kit.TEST_B: kit.tasks_frame(kit.TEST_B, 2)}
    _materialize(kit, db, instance, frames, kit.TEST_A)
    _materialize(kit, db, instance, frames, kit.TEST_B)

    # session-00001 changed, session-00010 and -00011 are new, session-00003 was deleted (no rows).
    later = datetime(2024, 6, 1)
    changed_and_new = ["session-00001", "session-00010", "session-00011"]
    rows = kit.tasks_frame(kit.TEST_A, 0, sessions=changed_and_new, extracted_at=later)
    frames[kit.TEST_A] = TableWrite(TASKS, rows, sessions=frozenset([*changed_and_new, "session-00003"]))
    result = _materialize(kit, db, instance, frames, kit.TEST_A)

    assert _write_metadata(result) == {
        "dagster/row_count": 13,  # the table: 11 of this test, 2 of the other
        "dagster/partition_row_count": 11,
        "rows_inserted": 3,
        "rows_deleted": 2,  # session-00001 and session-00003
    }
    by_session = dict(
        _rows(db, f"SELECT session_id, extracted_at FROM usertesting.tasks WHERE test_id = '{kit.TEST_A}'")
    )
    untouched = set(kit.session_ids(10)) - {"session-00001", "session-00003"}
    assert by_session == {**dict.fromkeys(untouched, first), **dict.fromkeys(changed_and_new, later)}
    assert _rows(db, COUNTS)[0 if kit.TEST_B < kit.TEST_A else 1] == (kit.TEST_B, 2)


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


def test_columns_are_matched_by_name_not_position(kit, tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    frame = kit.tasks_frame(kit.TEST_A, 3)
    warehouse.write(kit.TEST_A, TableWrite(TASKS, frame[list(reversed(frame.columns))]))
    kit.assert_same_frame(warehouse.read(TASKS, kit.TEST_A), frame)


@pytest.mark.parametrize("problem", ["missing_column", "foreign_test", "session_not_listed"])
def test_refused_write_keeps_previous_rows(kit, instance, tmp_path: Path, problem: str) -> None:
    db = tmp_path / "warehouse.duckdb"
    good = kit.tasks_frame(kit.TEST_A, 2)
    _materialize(kit, db, instance, {kit.TEST_A: good}, kit.TEST_A)
    bad: Any
    if problem == "missing_column":
        bad, error, match = good.drop(columns=["task_text"]), FrameColumnsError, r"missing \['task_text'\]"
    elif problem == "foreign_test":
        bad, error, match = kit.tasks_frame(kit.TEST_B, 1), ValueError, "other than the partition"
    else:
        bad = TableWrite(TASKS, good, sessions=frozenset({"session-0"}))
        error, match = ValueError, "sessions not in the write"
    with pytest.raises(error, match=match):
        _materialize(kit, db, instance, {kit.TEST_A: bad}, kit.TEST_A)
    assert _rows(db, COUNTS) == [(kit.TEST_A, 2)]


def test_write_refused_by_the_warehouse_mid_partition_keeps_previous_rows(kit, tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.write(kit.TEST_A, TableWrite(TASKS, kit.tasks_frame(kit.TEST_A, 2)))
    bad = kit.tasks_frame(kit.TEST_A, 3)
    bad.loc[2, "session_id"] = None  # NOT NULL: refused by the INSERT, after the DELETE ran
    with pytest.raises(duckdb.ConstraintException, match="session_id"):
        warehouse.write(kit.TEST_A, TableWrite(TASKS, bad))
    kit.assert_same_frame(warehouse.read(TASKS, kit.TEST_A), kit.tasks_frame(kit.TEST_A, 2))


def test_write_many_commits_every_table_or_none(kit, tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    tasks = kit.tasks_frame(kit.TEST_A, 2)
    sessions = to_frame(SESSIONS, [{"test_id": kit.TEST_A, "session_id": f"session-{i}"} for i in range(2)])
    results = warehouse.write_many(kit.TEST_A, [TableWrite(TASKS, tasks), TableWrite(SESSIONS, sessions)])
    assert [(r.rows_inserted, r.rows_deleted, r.partition_rows) for r in results] == [(2, 0, 2), (2, 0, 2)]
    # The table holds both tests' rows; the partition only this test's.
    other = warehouse.write_many(kit.TEST_B, [TableWrite(TASKS, kit.tasks_frame(kit.TEST_B, 3))])
    assert [(r.table_rows, r.partition_rows) for r in other] == [(5, 3)]

    # The sessions rows are refused by their INSERT (NOT NULL), after the tasks were replaced.
    no_session = to_frame(SESSIONS, [{"test_id": kit.TEST_A, "session_id": None}])
    writes = [TableWrite(TASKS, kit.tasks_frame(kit.TEST_A, 3)), TableWrite(SESSIONS, no_session)]
    with pytest.raises(duckdb.ConstraintException, match="session_id"):
        warehouse.write_many(kit.TEST_A, writes)
    kit.assert_same_frame(warehouse.read(TASKS, kit.TEST_A), tasks)
    kit.assert_same_frame(warehouse.read(SESSIONS, kit.TEST_A), sessions)

    # A second write of a table would delete the rows the first one inserted.
    with pytest.raises(ValueError, match="one write per table"):
        warehouse.write_many(kit.TEST_A, [TableWrite(TASKS, tasks), TableWrite(TASKS, tasks)])


# Exit status 3 when another process holds the DuckDB file.
LOCK_PROBE = """
import sys
import duckdb
try:
    duckdb.connect(sys.argv[1]).close()
except duckdb.IOException:
    sys.exit(3)
"""


def test_with_block_keeps_one_connection_and_frees_the_file_at_its_end(kit, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"

    def other_process_opens() -> bool:
        probe = subprocess.run([sys.executable, "-c", LOCK_PROBE, str(db)], timeout=120, check=False)
        assert probe.returncode in (0, 3)
        return probe.returncode == 0

    with DuckDBWarehouse(db) as warehouse:
        warehouse.write(kit.TEST_A, TableWrite(TASKS, kit.tasks_frame(kit.TEST_A, 2)))
        bad = kit.tasks_frame(kit.TEST_A, 3)
        bad.loc[2, "session_id"] = None
        with pytest.raises(duckdb.ConstraintException):
            warehouse.write(kit.TEST_A, TableWrite(TASKS, bad))
        # The connection goes on after a rolled-back write.
        warehouse.write(kit.TEST_B, TableWrite(TASKS, kit.tasks_frame(kit.TEST_B, 1)))
        kit.assert_same_frame(warehouse.read(TASKS, kit.TEST_A), kit.tasks_frame(kit.TEST_A, 2))
        assert not other_process_opens()  # held for the whole block
    assert other_process_opens()
    assert _rows(db, COUNTS) == sorted([(kit.TEST_A, 2), (kit.TEST_B, 1)])


KILLED_WRITER = """
import sys
import pandas as pd
from dagster_usertesting.lib.schema import TASKS
from dagster_usertesting.lib.warehouse import TableWrite
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse

warehouse = DuckDBWarehouse(sys.argv[1])
held = warehouse.read(TASKS, sys.argv[2])
rows = pd.concat([held] * 50_000, ignore_index=True)
rows["session_id"] = [f"session-{i}" for i in range(len(rows))]
print("writing", flush=True)
warehouse.write(sys.argv[2], TableWrite(TASKS, rows))
print("written", flush=True)
"""


def test_killed_write_leaves_previous_or_new_rows(kit, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    DuckDBWarehouse(db).write(kit.TEST_A, TableWrite(TASKS, kit.tasks_frame(kit.TEST_A, 2)))
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(db), kit.TEST_A], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    writer.kill()  # SIGKILL somewhere inside the write
    writer.wait(timeout=30)
    assert _rows(db, COUNTS) in ([(kit.TEST_A, 2)], [(kit.TEST_A, 100_000)])


def test_locked_file_fails_with_what_to_do_and_next_run_loads(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    frames = {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 2)}
    _materialize(kit, db, instance, frames, kit.TEST_A)
    # A second process keeps the file open, as a notebook or BI tool does, until told to stop.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys\nc = duckdb.connect({str(db)!r})\nprint('open', flush=True)\nsys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        frames[kit.TEST_A] = kit.tasks_frame(kit.TEST_A, 3)
        with pytest.raises(WarehouseUnavailableError) as raised:
            _materialize(kit, db, instance, frames, kit.TEST_A, lock_timeout_s=0.3)
        message = str(raised.value)
        assert str(db) in message and f"PID {holder.pid}" in message
        assert "Close the program" in message and "landing area" in message
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    _materialize(kit, db, instance, frames, kit.TEST_A)
    assert _rows(db, COUNTS) == [(kit.TEST_A, 3)]


def test_client_reads_and_deletes_a_test_in_every_table(kit, tmp_path: Path) -> None:
    warehouse = open_warehouse(Settings.from_env({"UT_DATA_DIR": str(tmp_path)}))
    assert warehouse.delete_test(kit.TEST_A) == {}  # no file yet
    pd.testing.assert_frame_equal(warehouse.read(TASKS, kit.TEST_A), empty_frame(TASKS))
    for test_id in (kit.TEST_A, kit.TEST_B):
        warehouse.write(test_id, TableWrite(TASKS, kit.tasks_frame(test_id, 2)))
    warehouse.write(kit.TEST_A, TableWrite(QX_SCORES, empty_frame(QX_SCORES)))

    assert warehouse.delete_test(kit.TEST_A) == {"tasks": 2, "qx_scores": 0}
    assert len(warehouse.read(TASKS, kit.TEST_A)) == 0
    kit.assert_same_frame(warehouse.read(TASKS, kit.TEST_B), kit.tasks_frame(kit.TEST_B, 2))
    kit.assert_same_frame(warehouse.read(TASKS), kit.tasks_frame(kit.TEST_B, 2))
    assert _rows(tmp_path / "warehouse.duckdb", COUNTS) == [(kit.TEST_B, 2)]


HISTORY = ("usertesting_marts", "qx_score_history")


def test_deleting_a_test_also_deletes_its_rows_from_derived_tables(kit, tmp_path: Path) -> None:
    # A table keyed by test_id that the caller derives from the synced ones (dbt's incremental
    # qx_score_history keeps its rows across builds, so nothing else would remove them).
    db = tmp_path / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(db)
    for test_id in (kit.TEST_A, kit.TEST_B):
        warehouse.write(test_id, TableWrite(TASKS, kit.tasks_frame(test_id, 2)))
    with duckdb.connect(str(db)) as conn:
        conn.execute("CREATE SCHEMA usertesting_marts")
        conn.execute("CREATE TABLE usertesting_marts.qx_score_history (test_id VARCHAR, qx_score DOUBLE)")
        conn.execute(
            "INSERT INTO usertesting_marts.qx_score_history VALUES (?, 70), (?, 75), (?, 60)",
            [kit.TEST_A, kit.TEST_A, kit.TEST_B],
        )

    # A derived table that was never built is skipped, as a synced table never written is.
    deleted = warehouse.delete_test(kit.TEST_A, derived=[HISTORY, ("usertesting_marts", "never_built")])

    assert deleted == {"tasks": 2, "usertesting_marts.qx_score_history": 2}
    assert _rows(db, "SELECT test_id, qx_score FROM usertesting_marts.qx_score_history") == [
        (kit.TEST_B, 60.0)
    ]
    assert _rows(db, COUNTS) == [(kit.TEST_B, 2)]
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        warehouse.delete_test(kit.TEST_B, derived=[("usertesting_marts", "qx_score_history; DROP")])
    assert _rows(db, COUNTS) == [(kit.TEST_B, 2)]  # a refused name deletes nothing


def test_a_table_without_sessions_is_only_written_whole(kit, tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    with pytest.raises(ValueError, match="no session_id column"):
        warehouse.write(kit.TEST_A, TableWrite(QX_SCORES, empty_frame(QX_SCORES), sessions=frozenset()))


def test_every_table_is_created_and_described(kit, tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    for table in ALL_TABLES.values():
        warehouse.write(kit.TEST_A, TableWrite(table, empty_frame(table)))
        warehouse.write(kit.TEST_A, TableWrite(table, empty_frame(table)))  # idempotent
        pd.testing.assert_frame_equal(warehouse.read(table, kit.TEST_A), empty_frame(table))
        schema = column_schema(table)
        assert [(c.name, c.type) for c in schema.columns] == [(c.name, c.type.dbt) for c in table.columns]
        assert all(c.description for c in schema.columns)


def test_asset_that_is_not_a_project_table_is_refused(instance, tmp_path: Path) -> None:
    @dg.asset(key=["scratch", "notes"])
    def notes() -> pd.DataFrame:
        return pd.DataFrame({"b": [1], "a": ["x"]})

    with pytest.raises(ValueError, match=r"not a table of dagster_usertesting\.lib\.schema"):
        dg.materialize(
            [notes], instance=instance, resources={"io_manager": duckdb_io_manager(tmp_path / "w.duckdb")}
        )


def test_an_unpartitioned_table_is_replaced_whole_and_loaded_whole(kit, instance, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    _materialize(kit, db, instance, {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 2)}, kit.TEST_A)
    runs = [{kit.TEST_A: "Checkout", kit.TEST_B: "Pricing"}, {kit.TEST_B: "Pricing v2"}]
    loaded: list[pd.DataFrame] = []
    resources = {"io_manager": duckdb_io_manager(db)}

    first = dg.materialize(kit.build_tests_assets(runs, loaded), instance=instance, resources=resources)
    assert sorted(_rows(db, "SELECT test_id, title FROM usertesting.tests")) == sorted(
        [(kit.TEST_A, "Checkout"), (kit.TEST_B, "Pricing")]
    )
    second = dg.materialize(kit.build_tests_assets(runs, loaded), instance=instance, resources=resources)

    # The second write replaced every row, not only those of the tests it names.
    assert _rows(db, "SELECT test_id, title FROM usertesting.tests") == [(kit.TEST_B, "Pricing v2")]
    meta = {
        k: v.value
        for k, v in second.asset_materializations_for_node("usertesting__tests")[0].metadata.items()
    }
    # One table for the credential: no partition, so no partition row count.
    assert meta == {"dagster/row_count": 1, "rows_inserted": 1, "rows_deleted": 2}
    assert first.success and second.success
    pd.testing.assert_frame_equal(loaded[-1], kit.tests_frame({kit.TEST_B: "Pricing v2"}))
    assert _rows(db, COUNTS) == [(kit.TEST_A, 2)]  # partitioned tables are untouched

    # Forgetting a test deletes its data, not its entry in the test list (the API still lists it).
    assert "tests" not in DuckDBWarehouse(db).delete_test(kit.TEST_B)
    assert _rows(db, "SELECT test_id FROM usertesting.tests") == [(kit.TEST_B,)]


def test_a_partitioned_table_needs_its_partition(kit, tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    with pytest.raises(ValueError, match="one test partition at a time"):
        warehouse.write(None, TableWrite(TASKS, kit.tasks_frame(kit.TEST_A, 1)))

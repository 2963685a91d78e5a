"""What both warehouses share: the write a sync hands over, its result, and the errors a user sees."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import pandas as pd

from dagster_usertesting.lib.normalize.frames import typed_frame
from dagster_usertesting.lib.schema import ALL_TABLES, PARTITION_COLUMN, SCHEMA, SESSION_COLUMN, Table
from dagster_usertesting.lib.warehouse.ddl import identifier, qualified_name

EXTRACTED_AT_COLUMN = "extracted_at"

# Said by every "warehouse unavailable" error: the user's worry is losing what was fetched.
NOTHING_LOST = (
    "Nothing fetched is lost: the API data is kept in the landing area, and the next run loads it "
    "into the warehouse without new API requests."
)


class WarehouseUnavailableError(RuntimeError):
    """The warehouse cannot be reached or opened; the message names it and says what to do."""

    def __init__(self, warehouse: str, problem: str, action: str) -> None:
        self.warehouse = warehouse
        super().__init__(f"{warehouse} is unavailable: {problem}. {action} {NOTHING_LOST}")


@dataclass(frozen=True)
class TableWrite:
    """Rows of one table for one test partition, and which rows they replace.

    sessions None: replace the whole test partition with `rows`. A set: delete the rows of these
    session_ids (new, changed and deleted sessions), then insert `rows`, which belong to these
    sessions only.
    """

    table: Table
    rows: pd.DataFrame
    sessions: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.sessions is not None and not isinstance(self.sessions, frozenset):
            object.__setattr__(self, "sessions", frozenset(self.sessions))


@dataclass(frozen=True)
class WriteResult:
    """What a write did, counted inside its transaction (so the counts include its own rows)."""

    rows_inserted: int
    rows_deleted: int
    table_rows: int  # every test's rows after the write
    partition_rows: int | None  # the test's rows after the write; None for an unpartitioned table

    def metadata(self) -> dict[str, Any]:
        """The materialization's metadata: the UI's "Row count" is the table's, as Dagster defines it."""
        counts: dict[str, Any] = {"dagster/row_count": self.table_rows}
        if self.partition_rows is not None:
            counts["dagster/partition_row_count"] = self.partition_rows
        return {**counts, "rows_inserted": self.rows_inserted, "rows_deleted": self.rows_deleted}


@dataclass(frozen=True)
class PreparedWrite:
    table: Table
    frame: pd.DataFrame
    sessions: tuple[str, ...] | None  # sorted; None = the whole partition

    def result(self, rows_deleted: int, counts: Sequence[Any]) -> WriteResult:
        """The result, given the row `count_sql` returned."""
        table_rows, partition_rows = counts
        partition = None if partition_rows is None else int(partition_rows)
        return WriteResult(len(self.frame), rows_deleted, int(table_rows), partition)


def prepare_write(test_id: str | None, write: TableWrite) -> PreparedWrite:
    """The typed rows of `write`, checked to stay inside what the write deletes.

    A row of another test, or of a session the write does not list, would be inserted next to the
    rows it should replace (a duplicate): refused before anything reaches the warehouse.
    """
    table = write.table
    frame = typed_frame(table, write.rows)
    if test_id is None:
        return _whole_table(table, frame, write)
    foreign = frame.loc[frame[PARTITION_COLUMN] != test_id, PARTITION_COLUMN]
    if len(foreign):
        raise ValueError(
            f"{table.name}: {len(foreign)} rows have test_id other than the partition {test_id!r} "
            f"(e.g. {sorted({str(v) for v in foreign})[:3]})"
        )
    if write.sessions is None:
        return PreparedWrite(table, frame, None)
    if not table.has_sessions:
        raise ValueError(
            f"{table.name} has no session_id column: write it with sessions=None (replace the test's rows)"
        )
    stray = set(frame[SESSION_COLUMN].dropna()) - write.sessions
    if stray:
        raise ValueError(
            f"{table.name}: rows of sessions not in the write's `sessions` (e.g. {sorted(stray)[:3]}); "
            "list every session whose rows are written"
        )
    return PreparedWrite(table, frame, tuple(sorted(write.sessions)))


def prepare_writes(test_id: str | None, writes: Sequence[TableWrite]) -> list[PreparedWrite]:
    """Every write prepared (and so checked) before a transaction starts; at most one per table."""
    names = [write.table.name for write in writes]
    if len(set(names)) != len(names):
        # The second write's DELETE would remove the rows the first one inserted.
        raise ValueError(f"one write per table in a transaction, got tables {names}")
    return [prepare_write(test_id, write) for write in writes]


def _whole_table(table: Table, frame: pd.DataFrame, write: TableWrite) -> PreparedWrite:
    """An unpartitioned table's write: its rows replace every row of the table."""
    if table.partitioned:
        raise ValueError(f"{table.name} is written one test partition at a time: give the test_id")
    if write.sessions is not None:
        raise ValueError(f"{table.name} is replaced whole: write it with sessions=None")
    return PreparedWrite(table, frame, None)


def partition_filter(test_id: str | None, placeholder: str) -> tuple[str, list[str]]:
    """The WHERE clause (and its parameters) selecting a test's rows; the whole table for None."""
    if test_id is None:
        return "", []
    # Drivers get a plain str: the Snowflake connector refuses str subclasses such as TestId.
    return f" WHERE {PARTITION_COLUMN} = {placeholder}", [str(test_id)]


def count_sql(name: str, test_id: str | None, placeholder: str) -> tuple[str, list[str]]:
    """One query counting the table's rows and (for a test) the test's: (table, partition or NULL).

    One scan and one round trip (a Snowflake statement costs ~0.1 s), run inside the write's
    transaction so both counts are of the rows this write left.
    """
    if test_id is None:
        return f"SELECT count(*), NULL FROM {name}", []
    # coalesce: DuckDB's count_if over an empty table is NULL, and an empty test has 0 rows.
    partition = f"coalesce(count_if({PARTITION_COLUMN} = {placeholder}), 0)"
    return f"SELECT count(*), {partition} FROM {name}", [str(test_id)]


def as_table_write(table: Table, obj: object) -> TableWrite:
    """An IO manager's output as a TableWrite: a plain DataFrame replaces the partition."""
    if isinstance(obj, TableWrite):
        if obj.table.name != table.name:
            raise ValueError(f"a TableWrite of {obj.table.name} was output for the asset of {table.name}")
        return obj
    if isinstance(obj, pd.DataFrame):
        return TableWrite(table, obj)
    raise TypeError(f"the warehouse IO manager writes a TableWrite or a DataFrame, not {type(obj).__name__}")


def table_named(name: str) -> Table:
    """The schema.py table for an asset key's last component (Snowflake reports names upper-cased)."""
    table = ALL_TABLES.get(name) or ALL_TABLES.get(name.lower())
    if table is None:
        raise ValueError(
            f"{name!r} is not a table of dagster_usertesting.lib.schema; the warehouse IO manager writes only those"
        )
    return table


def as_test_ids(test_id: str | Iterable[str] | None) -> list[str] | None:
    if test_id is None or isinstance(test_id, str):
        return None if test_id is None else [str(test_id)]
    return [str(t) for t in test_id]


def tables_of_a_test(derived: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(schema, table, key of its count) of every table `delete_test` deletes a test's rows from: the
    partitioned project tables (keyed by name) and the caller's derived ones (keyed "schema.table"),
    every derived name checked to be a plain identifier before anything is deleted."""
    # The test list (unpartitioned) is what the API lists: the next refresh decides its rows.
    ours = [(SCHEMA, t.name, t.name) for t in ALL_TABLES.values() if t.partitioned]
    # identifier() first: qualified_name skips an empty part, which would name the schema alone.
    return ours + [(s, t, qualified_name(identifier(s), identifier(t))) for s, t in derived]


class WarehouseClient(ABC):
    """Reads and writes the project's tables, one test partition at a time; each call is one transaction.

    Each call connects and disconnects, so a DuckDB file stays free for other processes between
    calls. Inside `with client:` every call uses one connection, opened at the start of the block
    and closed at its end: for many writes in a row (a test's tables, a rebuild), where connecting
    costs more than a small write (DuckDB starts a database instance and checkpoints on closing).
    """

    _held: Any = None  # the connection of a `with client:` block

    def __enter__(self) -> Self:
        if self._held is None:
            self._held = self._connect()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection a `with client:` block holds (nothing otherwise)."""
        held, self._held = self._held, None
        if held is not None:
            held.close()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._held is not None:
            yield self._held
            return
        conn = self._connect()
        try:
            yield conn
        finally:
            # Closed on failure too: an open DuckDB connection keeps the file locked.
            conn.close()

    @abstractmethod
    def _connect(self) -> Any:
        """A new connection; WarehouseUnavailableError when the warehouse cannot be reached."""

    @property
    @abstractmethod
    def description(self) -> str:
        """The warehouse as messages name it, e.g. "The DuckDB warehouse /data/warehouse.duckdb"."""

    def write(self, test_id: str | None, write: TableWrite) -> WriteResult:
        """Create the schema and table if missing, delete what `write` replaces, insert its rows.

        test_id None: the table is unpartitioned (Table.partitioned False) and is replaced whole.
        """
        return self.write_many(test_id, [write])[0]

    @abstractmethod
    def write_many(self, test_id: str | None, writes: Sequence[TableWrite]) -> list[WriteResult]:
        """`write` for several tables of the same partition, all in one transaction.

        Readers see every table's new rows or none (a test's tasks never without their sessions),
        and one commit costs less than one per table.
        """

    @abstractmethod
    def read(
        self, table: Table, test_id: str | Iterable[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The rows of these tests (all rows for None) as a typed frame; empty if the table is missing.

        `columns`: only these (as stored, not cast), for bookkeeping reads of large tables."""

    def session_versions(self, table: Table, test_id: str) -> dict[str, datetime]:
        """What the warehouse holds of a test: session_id -> the `extracted_at` of its rows in `table`.

        The sync compares this with what landed, so a new, emptied or switched warehouse (or a
        restored backup) is filled again from the landing area, with no API request.
        """
        frame = self.read(table, test_id, columns=(SESSION_COLUMN, EXTRACTED_AT_COLUMN))
        versions: dict[str, datetime] = {}
        for session_id, extracted_at in zip(frame[SESSION_COLUMN], frame[EXTRACTED_AT_COLUMN], strict=True):
            if session_id is None or pd.isna(extracted_at):
                continue
            moment = pd.Timestamp(extracted_at)
            moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
            # Several rows per session (tasks) share one extracted_at; the newest wins if not.
            previous = versions.get(str(session_id))
            current = moment.to_pydatetime()
            versions[str(session_id)] = current if previous is None else max(previous, current)
        return versions

    @abstractmethod
    def delete_test(self, test_id: str, derived: Sequence[tuple[str, str]] = ()) -> dict[str, int]:
        """Delete the test's rows from every partitioned project table, in one transaction; rows
        deleted by table. The test list (usertesting.tests) keeps its row until the next refresh.

        `derived`: (schema, table) pairs of the caller's tables keyed by `test_id` that it derives
        from the synced ones and that keep rows a rebuild would not remove (e.g. an incremental
        dbt model): their rows of the test go in the same transaction. One not created yet is
        skipped. Their counts are keyed "schema.table"; the project tables' by their name."""

"""The Snowflake warehouse: the same writes as DuckDB's, each replacing rows in one transaction.

A write uploads its rows to a temporary table first (`write_pandas`: parquet, PUT, COPY), then runs
DELETE + INSERT ... SELECT between BEGIN and COMMIT. The upload can fail or be killed without
touching the table; a failure after BEGIN is rolled back, and the changes of a process killed
before COMMIT are never visible, so a partition always holds its previous rows or its new ones.
(A killed process leaves its transaction detached, holding the table's lock, until Snowflake aborts
it; `SELECT SYSTEM$ABORT_TRANSACTION(<id>)` from SHOW TRANSACTIONS frees it sooner.)

Only this module imports Snowflake packages, and only the connector (dagster_snowflake costs ~10 s
more to import). Settings and the key pair: snowflake_config.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import snowflake.connector
import snowflake.connector.pandas_tools
from dagster import EnvVar
from pydantic import Field

from dagster_usertesting.lib.normalize.frames import empty_frame, typed_frame
from dagster_usertesting.lib.schema import (
    JSON,
    PARTITION_COLUMN,
    SCHEMA,
    SESSION_COLUMN,
    STRING,
    Table,
)
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
from dagster_usertesting.lib.warehouse.snowflake_config import (
    SnowflakeConfigError,
    connection_config,
    load_private_key,
    normalise_private_key,
    snowflake_resource,
)

__all__ = [
    "SnowflakeConfigError",
    "SnowflakeWarehouse",
    "UserTestingSnowflakeIOManager",
    "normalise_private_key",
    "snowflake_io_manager",
    "snowflake_resource",
    "snowflake_warehouse",
]

# Session ids go to the DELETE as one JSON text parameter; batches keep each statement far below
# Snowflake's 1 MB statement limit.
_SESSION_BATCH = 5000


# Writes schema.py tables, one test partition per write (see io_manager.py). Give secrets as EnvVar
# (snowflake_io_manager does), so they stay out of run config and the UI.
class UserTestingSnowflakeIOManager(WarehouseIOManager):
    """Writes the synced UserTesting tables into the Snowflake warehouse, one test at a time."""

    account: str = Field(description="Snowflake account identifier (SNOWFLAKE_ACCOUNT).")
    user: str = Field(description="User the sync connects as (SNOWFLAKE_USER).")
    database: str = Field(description="Database holding the `usertesting` schema (SNOWFLAKE_DATABASE).")
    password: str | None = Field(default=None, description="Password, when no key pair is set.")
    private_key: str | None = Field(default=None, description="PEM (or base64) private key text.")
    private_key_path: str | None = Field(default=None, description="Path of a PEM or DER private key.")
    private_key_password: str | None = Field(default=None, description="Passphrase of an encrypted key.")
    role: str | None = Field(default=None, description="Role to use (SNOWFLAKE_ROLE).")
    warehouse: str | None = Field(default=None, description="Virtual warehouse (SNOWFLAKE_WAREHOUSE).")
    host: str | None = Field(default=None, description="Host override (private link, tests).")
    port: int | None = Field(default=None, description="Port override.")
    protocol: str | None = Field(default=None, description="Protocol override (https unless set).")
    login_timeout: int = Field(default=60, description="Seconds to keep trying to connect before failing.")

    def client(self) -> SnowflakeWarehouse:
        """The warehouse; also outside a run, where fields given as EnvVar are still unresolved."""
        kwargs = self.connect_kwargs()
        return SnowflakeWarehouse(kwargs, kwargs["account"])

    def connect_kwargs(self) -> dict[str, Any]:
        fields = {name: _resolved(getattr(self, name)) for name in type(self).model_fields}
        kwargs: dict[str, Any] = {
            "account": fields["account"],
            "user": fields["user"],
            "database": fields["database"],
            "schema": SCHEMA,
            "login_timeout": self.login_timeout,
            "application": "ut-dagster",
        }
        optional = ("role", "warehouse", "host", "port", "protocol")
        kwargs.update({k: fields[k] for k in optional if fields[k] is not None})
        if fields["private_key"] or fields["private_key_path"]:
            kwargs["private_key"] = load_private_key(
                fields["private_key"], fields["private_key_path"], fields["private_key_password"]
            )
        elif fields["password"]:
            kwargs["password"] = fields["password"]
        return kwargs


def _resolved(value: Any) -> Any:
    return value.get_value() if isinstance(value, EnvVar) else value


class SnowflakeWarehouse(WarehouseClient):
    def __init__(self, connect_kwargs: Mapping[str, Any], account: str) -> None:
        self._kwargs = dict(connect_kwargs)
        self.account = account
        self.database = str(connect_kwargs["database"])

    @property
    def description(self) -> str:
        return f"The Snowflake warehouse (account {self.account}, database {self.database})"

    def write_many(self, test_id: str | None, writes: Sequence[TableWrite]) -> list[WriteResult]:
        prepared = prepare_writes(test_id, writes)
        schema = qualified_name(self.database, SCHEMA)
        with self._connection() as conn, conn.cursor() as cursor:
            # DDL commits on its own in Snowflake, so it all runs before the transaction.
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for write in prepared:
                cursor.execute(create_table_sql(write.table, "snowflake", self._name(write.table)))
            cursor.execute(f"USE SCHEMA {schema}")
            stages = [self._stage(conn, cursor, write) for write in prepared]
            cursor.execute("BEGIN")
            try:
                results = [
                    self._replace(cursor, test_id, write, stage)
                    for write, stage in zip(prepared, stages, strict=True)
                ]
                cursor.execute("COMMIT")
            except BaseException:
                conn.rollback()
                raise
            if self._held is not None:
                # A temporary table lasts as long as its connection: a held one would keep every
                # write's rows until the `with` block ends.
                for stage in filter(None, stages):
                    cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        return results

    def read(
        self, table: Table, test_id: str | Iterable[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        test_ids = as_test_ids(test_id)
        with self._connection() as conn, conn.cursor() as cursor:
            if not self._table_exists(cursor, table.name):
                return empty_frame(table, columns)
            sql = (
                f"SELECT {column_list(table, columns)} "
                f"FROM {qualified_name(self.database, SCHEMA, table.name)}"
            )
            params: tuple[str, ...] = ()
            if test_ids is not None:
                if not test_ids:
                    return empty_frame(table, columns)
                sql += f" WHERE {PARTITION_COLUMN} IN ({', '.join(['%s'] * len(test_ids))})"
                params = tuple(test_ids)
            cursor.execute(sql, params)
            frame = cursor.fetch_pandas_all()
        if columns is not None:
            return frame.rename(columns=str.lower)
        return typed_frame(table, frame, from_warehouse=True)

    def delete_test(self, test_id: str, derived: Sequence[tuple[str, str]] = ()) -> dict[str, int]:
        tables = tables_of_a_test(derived)
        deleted: dict[str, int] = {}
        with self._connection() as conn, conn.cursor() as cursor:
            present = [(s, t, key) for s, t, key in tables if self._table_exists(cursor, t, s)]
            cursor.execute("BEGIN")
            try:
                for schema, table, key in present:
                    name = qualified_name(self.database, schema, table)
                    cursor.execute(f"DELETE FROM {name} WHERE {PARTITION_COLUMN} = %s", (str(test_id),))
                    deleted[key] = int(cursor.rowcount or 0)
                cursor.execute("COMMIT")
            except BaseException:
                conn.rollback()
                raise
        return deleted

    def _name(self, table: Table) -> str:
        return qualified_name(self.database, SCHEMA, table.name)

    def _replace(
        self, cursor: Any, test_id: str | None, prepared: PreparedWrite, stage: str | None
    ) -> WriteResult:
        """Inside the caller's transaction: delete what the write replaces, insert the stage, count the
        table and the test."""
        table = prepared.table
        name = self._name(table)
        rows_deleted = self._delete(cursor, name, test_id, prepared.sessions)
        if stage is not None:
            columns = column_list(table)
            cursor.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {stage}")
        sql, params = count_sql(name, test_id, "%s")
        cursor.execute(sql, params)
        return prepared.result(rows_deleted, cursor.fetchone())

    def _stage(self, conn: Any, cursor: Any, prepared: PreparedWrite) -> str | None:
        """The rows in a new temporary table (gone with the session), or None when there are none."""
        if not len(prepared.frame):
            return None
        table = prepared.table
        stage = f"UT_STAGE_{uuid.uuid4().hex.upper()}"
        cursor.execute(create_table_sql(table, "snowflake", stage, temporary=True))
        # Real write_pandas goes through parquet, where an all-None object column has pyarrow's
        # null type and nothing for COPY to go on; the string dtype keeps it text. Upper-case
        # quoted names are what the unquoted DDL created.
        text = {c.name: "string" for c in table.columns if c.type in (STRING, JSON)}
        frame = prepared.frame.astype(text).rename(columns=str.upper)
        # Looked up at call time, so fakesnow's patch of the module attribute applies in tests.
        success, _, copied, _ = snowflake.connector.pandas_tools.write_pandas(
            conn, frame, stage, quote_identifiers=True, auto_create_table=False, use_logical_type=True
        )
        if not success or copied != len(frame):
            raise RuntimeError(
                f"Snowflake staged {copied} of {len(frame)} {table.name} rows; nothing was replaced"
            )
        return stage

    @staticmethod
    def _delete(cursor: Any, name: str, test_id: str | None, sessions: tuple[str, ...] | None) -> int:
        if sessions is None:
            where, params = partition_filter(test_id, "%s")
            cursor.execute(f"DELETE FROM {name}{where}", params)
            return int(cursor.rowcount or 0)
        deleted = 0
        for start in range(0, len(sessions), _SESSION_BATCH):
            batch = json.dumps(sessions[start : start + _SESSION_BATCH])
            cursor.execute(
                f"DELETE FROM {name} WHERE {PARTITION_COLUMN} = %s AND {SESSION_COLUMN} IN "
                "(SELECT value::VARCHAR FROM TABLE(FLATTEN(INPUT => PARSE_JSON(%s))))",
                (str(test_id), batch),
            )
            deleted += int(cursor.rowcount or 0)
        return deleted

    def _table_exists(self, cursor: Any, name: str, schema: str = SCHEMA) -> bool:
        # Unquoted names, as the DDL here and dbt create them, are stored upper-cased.
        cursor.execute(
            f"SELECT count(*) FROM {qualified_name(self.database)}.INFORMATION_SCHEMA.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema.upper(), name.upper()),
        )
        return int(cursor.fetchone()[0]) > 0

    def _connect(self) -> Any:
        try:
            return snowflake.connector.connect(**self._kwargs)
        except snowflake.connector.errors.Error as error:
            raise WarehouseUnavailableError(
                self.description,
                f"could not connect: {error}",
                "Check the network and the SNOWFLAKE_* settings (account, user, key or password, role), "
                "then run the sync again.",
            ) from error


def snowflake_io_manager(environ: Mapping[str, str] | None = None) -> UserTestingSnowflakeIOManager:
    """The Snowflake IO manager configured from SNOWFLAKE_* environment variables (see connection_config)."""
    return UserTestingSnowflakeIOManager(**connection_config(environ))


def snowflake_warehouse() -> SnowflakeWarehouse:
    """A SnowflakeWarehouse from SNOWFLAKE_* environment variables, for work outside a run."""
    return snowflake_io_manager().client()

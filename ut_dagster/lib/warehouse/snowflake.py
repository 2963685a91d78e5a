"""Snowflake IO manager whose tables come from schema.py instead of from the first DataFrame written.

The library's write path (dagster/_core/storage/db_io_manager.py, DbIOManager.handle_output): one
connection; `ensure_schema_exists` (SHOW SCHEMAS, CREATE SCHEMA if missing); `delete_table_slice`
(`DELETE FROM db.schema.table WHERE test_id in (...)`, ignoring only an error containing "does not
exist or not authorized"); then dagster_snowflake_pandas's handler, which skips empty frames and
otherwise calls `write_pandas(auto_create_table=True, use_logical_type=True, quote_identifiers=True)`
with upper-cased names: a COPY INTO matched by column name. Creating the table in
`ensure_schema_exists` fixes its column types (write_pandas would infer them from the first frame),
makes an empty first write create the table and makes the DELETE always find it (fakesnow's
missing-table error text differs from Snowflake's, so the library's ignore would not apply there).

Only this module imports Snowflake packages (`import dagster_snowflake` costs ~10 s).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
from dagster import EnvVar, InputContext, OutputContext
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_snowflake import SnowflakeResource
from dagster_snowflake.snowflake_io_manager import SnowflakeDbClient
from dagster_snowflake_pandas import SnowflakePandasIOManager, SnowflakePandasTypeHandler

from ut_dagster.lib.schema import JSON, STRING
from ut_dagster.lib.warehouse.ddl import create_table_sql, table_named
from ut_dagster.lib.warehouse.frames import frame_for_write, frame_from_load, output_metadata


class SnowflakeConfigError(ValueError):
    """The SNOWFLAKE_* environment does not describe a usable connection."""


def normalise_private_key(value: str) -> str:
    """PEM text as Snowflake's loader wants it.

    Secrets stores and .env files often hold a PEM on one line with literal `\\n` sequences;
    dagster-snowflake would then fall back to base64-decoding it and fail. Base64 text passes through.
    """
    value = value.strip()
    if value.startswith("-----BEGIN") and "\\n" in value:
        value = value.replace("\\n", "\n").strip()
    return value


class UsertestingSnowflakeDbClient(SnowflakeDbClient):
    @staticmethod
    @contextmanager
    def connect(context: OutputContext | InputContext, table_slice: TableSlice) -> Iterator[Any]:
        # As SnowflakeDbClient.connect (schema from the table slice), plus PEM normalisation.
        config = {k: v for k, v in (context.resource_config or {}).items() if k != "schema"}
        if config.get("private_key"):
            config["private_key"] = normalise_private_key(config["private_key"])
        with SnowflakeResource(schema=table_slice.schema, **config).get_connection(raw_conn=False) as conn:
            yield conn

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection: Any) -> None:
        SnowflakeDbClient.ensure_schema_exists(context, table_slice, connection)
        table = table_named(table_slice.table)
        if table is not None:
            sql = create_table_sql(
                table, "snowflake", schema=table_slice.schema, database=table_slice.database
            )
            with connection.cursor() as cursor:
                cursor.execute(sql)


class UsertestingSnowflakePandasTypeHandler(SnowflakePandasTypeHandler):
    """Checks columns and dtypes before write_pandas and gives loads the dtypes the assets produce."""

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection: Any
    ) -> Mapping[str, Any]:
        table = table_named(table_slice.table)
        if table is None:
            return super().handle_output(context, table_slice, obj, connection)
        frame = frame_for_write(table, obj)
        if frame.empty:
            # The table exists and the partition was deleted: nothing to copy. (The library would
            # log that no table will be created.)
            return output_metadata(context, frame, "snowflake")
        # Real write_pandas goes through parquet, where an all-None object column has pyarrow's
        # null type and nothing for Snowflake's INFER_SCHEMA to go on; the string dtype keeps it text.
        text = {c.name: "string" for c in table.columns if c.type in (STRING, JSON)}
        return super().handle_output(context, table_slice, frame.astype(text), connection)

    def load_input(self, context: InputContext, table_slice: TableSlice, connection: Any) -> pd.DataFrame:
        frame = super().load_input(context, table_slice, connection)
        table = table_named(table_slice.table)
        return frame if table is None else frame_from_load(table, frame, table_slice.columns)


class UsertestingSnowflakeIOManager(SnowflakePandasIOManager):
    """SnowflakePandasIOManager with project-owned DDL; schema = asset key prefix, table = last component.

    Keep `store_timestamps_as_strings` False: timestamps go through parquet logical types into
    TIMESTAMP_NTZ columns (the frames carry naive UTC).
    """

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [UsertestingSnowflakePandasTypeHandler()]

    def create_io_manager(self, context: Any) -> DbIOManager:
        if self.store_timestamps_as_strings:
            # The library would then require VARCHAR columns; ours are TIMESTAMP_NTZ.
            raise ValueError("UsertestingSnowflakeIOManager needs store_timestamps_as_strings=False")
        return DbIOManager(
            db_client=UsertestingSnowflakeDbClient(),
            io_manager_name="UsertestingSnowflakeIOManager",
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
        )


_REQUIRED = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_DATABASE")
_OPTIONAL = {"role": "SNOWFLAKE_ROLE", "warehouse": "SNOWFLAKE_WAREHOUSE"}


def snowflake_io_manager(environ: Mapping[str, str] | None = None) -> UsertestingSnowflakeIOManager:
    """The Snowflake IO manager configured from SNOWFLAKE_* environment variables (see connection_config)."""
    return UsertestingSnowflakeIOManager(**connection_config(environ))


def snowflake_resource(environ: Mapping[str, str] | None = None) -> Any:
    """A dagster-snowflake `SnowflakeResource` (for queries, e.g. the research alerts), same settings."""
    from dagster_snowflake import SnowflakeResource

    return SnowflakeResource(**connection_config(environ))


def connection_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Connection settings from SNOWFLAKE_* environment variables.

    Every value is an `EnvVar`, resolved when a run starts, so no secret appears in run config or
    the UI. `environ` only decides which variables to reference (an unset EnvVar fails config
    resolution): key-pair auth (SNOWFLAKE_PRIVATE_KEY PEM text, else SNOWFLAKE_PRIVATE_KEY_PATH,
    optional SNOWFLAKE_PRIVATE_KEY_PASSPHRASE) wins over SNOWFLAKE_PASSWORD, because
    dagster-snowflake refuses a config with both.
    """
    env = os.environ if environ is None else environ

    def is_set(name: str) -> bool:
        return bool(env.get(name, "").strip())

    missing = [name for name in _REQUIRED if not is_set(name)]
    auth: dict[str, Any]
    if is_set("SNOWFLAKE_PRIVATE_KEY"):
        auth = {"private_key": EnvVar("SNOWFLAKE_PRIVATE_KEY")}
    elif is_set("SNOWFLAKE_PRIVATE_KEY_PATH"):
        auth = {"private_key_path": EnvVar("SNOWFLAKE_PRIVATE_KEY_PATH")}
    elif is_set("SNOWFLAKE_PASSWORD"):
        auth = {"password": EnvVar("SNOWFLAKE_PASSWORD")}
    else:
        auth = {}
        missing.append("SNOWFLAKE_PRIVATE_KEY, SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_PASSWORD")
    if missing:
        raise SnowflakeConfigError(
            "Snowflake warehouse selected but these environment variables are not set: "
            + "; ".join(missing)
            + ". Key-pair auth (SNOWFLAKE_PRIVATE_KEY or SNOWFLAKE_PRIVATE_KEY_PATH, plus "
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if the key is encrypted) is used when set, else SNOWFLAKE_PASSWORD."
        )
    if "password" not in auth and is_set("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"):
        auth["private_key_password"] = EnvVar("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
    optional = {field: EnvVar(name) for field, name in _OPTIONAL.items() if is_set(name)}
    return {
        "account": EnvVar("SNOWFLAKE_ACCOUNT"),
        "user": EnvVar("SNOWFLAKE_USER"),
        "database": EnvVar("SNOWFLAKE_DATABASE"),
        **auth,
        **optional,
    }

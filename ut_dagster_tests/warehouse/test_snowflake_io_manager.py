"""UserTestingSnowflakeIOManager through real Dagster materializations against fakesnow.

Its own module because importing the Snowflake connector and fakesnow is slow. fakesnow patches
`snowflake.connector.connect` and `snowflake.connector.pandas_tools.write_pandas`, which the
warehouse module looks up at call time.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import fakesnow
import pandas as pd
import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.normalize.frames import FrameColumnsError, empty_frame, to_frame
from dagster_usertesting.lib.schema import ALL_TABLES, SESSIONS, TASKS
from dagster_usertesting.lib.warehouse import TableWrite, WarehouseUnavailableError
from dagster_usertesting.lib.warehouse.snowflake import (
    SnowflakeConfigError,
    UserTestingSnowflakeIOManager,
    normalise_private_key,
    snowflake_io_manager,
    snowflake_warehouse,
)

# fakesnow's arrow copy on its read path, not this project's.
pytestmark = [pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")]

DATABASE = "UT_DB"
COUNTS = f"SELECT test_id, count(*) FROM {DATABASE}.usertesting.tasks GROUP BY 1 ORDER BY 1"


@pytest.fixture
def fake_snowflake() -> Iterator[None]:
    with fakesnow.patch():
        yield


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SNOWFLAKE_ACCOUNT": "acme-test",
        "SNOWFLAKE_USER": "ut_loader",
        "SNOWFLAKE_PASSWORD": "hunter2",
        "SNOWFLAKE_DATABASE": DATABASE,
        "SNOWFLAKE_WAREHOUSE": "LOADING",
        "SNOWFLAKE_ROLE": "LOADER",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)


def _materialize(
    kit: SimpleNamespace, instance: Any, frames: dict, partition: str, loaded=None, manager=None
):
    assets = kit.build_assets(frames, {} if loaded is None else loaded)
    return dg.materialize(
        assets if loaded is not None else assets[:1],
        partition_key=partition,
        instance=instance,
        resources={"io_manager": manager or snowflake_io_manager()},
    )


def _query(sql: str) -> list[tuple]:
    # fakesnow keeps one in-memory DuckDB for the whole patch, so a new connection sees the writes.
    with snowflake.connector.connect(database=DATABASE, schema="USERTESTING") as conn:
        return conn.cursor().execute(sql).fetchall()


def test_empty_first_write_creates_table_with_project_types(
    kit, instance, fake_snowflake, password_env
) -> None:
    result = _materialize(kit, instance, {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 0)}, kit.TEST_A)
    [materialization] = result.asset_materializations_for_node("usertesting__tasks")
    counts = {k: v.value for k, v in materialization.metadata.items() if "row_count" in k}
    assert counts == {"dagster/row_count": 0, "dagster/partition_row_count": 0}  # an empty test is counted
    described = _query(f"DESCRIBE TABLE {DATABASE}.usertesting.tasks")
    assert [row[0] for row in described] == [c.upper() for c in TASKS.column_names]
    assert [row[3] for row in described][:3] == ["N", "N", "Y"]  # test_id, session_id NOT NULL
    assert _query(f"SELECT count(*) FROM {DATABASE}.usertesting.tasks") == [(0,)]


def test_rewriting_a_partition_replaces_it_and_leaves_others(
    kit, instance, fake_snowflake, password_env
) -> None:
    frames = {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 3), kit.TEST_B: kit.tasks_frame(kit.TEST_B, 2)}
    _materialize(kit, instance, frames, kit.TEST_A)
    _materialize(kit, instance, frames, kit.TEST_B)
    _materialize(kit, instance, frames, kit.TEST_A)  # rewrite: no duplicates
    assert _query(COUNTS) == sorted([(kit.TEST_A, 3), (kit.TEST_B, 2)])

    frames[kit.TEST_B] = kit.tasks_frame(kit.TEST_B, 0)  # an empty partition clears its rows
    _materialize(kit, instance, frames, kit.TEST_B)
    assert _query(COUNTS) == [(kit.TEST_A, 3)]


def test_session_write_replaces_only_those_sessions(kit, instance, fake_snowflake, password_env) -> None:
    first, later = datetime(2024, 5, 1), datetime(2024, 6, 1)
    frames: dict[str, Any] = {
        kit.TEST_A: kit.tasks_frame(kit.TEST_A, 0, sessions=kit.session_ids(10), extracted_at=first),
        kit.TEST_B: kit.tasks_frame(kit.TEST_B, 2),
    }
    _materialize(kit, instance, frames, kit.TEST_A)
    _materialize(kit, instance, frames, kit.TEST_B)

    changed_and_new = ["session-00001", "session-00010"]
    rows = kit.tasks_frame(kit.TEST_A, 0, sessions=changed_and_new, extracted_at=later)
    frames[kit.TEST_A] = TableWrite(TASKS, rows, sessions=frozenset([*changed_and_new, "session-00003"]))
    result = _materialize(kit, instance, frames, kit.TEST_A)

    [materialization] = result.asset_materializations_for_node("usertesting__tasks")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata == {
        "dagster/row_count": 12,  # the table: 10 of this test, 2 of the other
        "dagster/partition_row_count": 10,
        "rows_inserted": 2,
        "rows_deleted": 2,
    }
    by_session = dict(
        _query(
            f"SELECT session_id, extracted_at FROM {DATABASE}.usertesting.tasks WHERE test_id = '{kit.TEST_A}'"
        )
    )
    untouched = set(kit.session_ids(10)) - {"session-00001", "session-00003"}
    assert by_session == {**dict.fromkeys(untouched, first), **dict.fromkeys(changed_and_new, later)}
    assert (kit.TEST_B, 2) in _query(COUNTS)


def test_refused_frame_keeps_previous_rows(kit, instance, fake_snowflake, password_env) -> None:
    # The reported bug: the partition DELETE was committed before the frame was refused (0 rows left).
    good = kit.tasks_frame(kit.TEST_A, 2)
    _materialize(kit, instance, {kit.TEST_A: good}, kit.TEST_A)
    with pytest.raises(FrameColumnsError):
        _materialize(kit, instance, {kit.TEST_A: good.drop(columns=["task_text"])}, kit.TEST_A)
    assert _query(COUNTS) == [(kit.TEST_A, 2)]


def test_write_failing_mid_partition_keeps_previous_rows(kit, fake_snowflake, password_env) -> None:
    warehouse = snowflake_warehouse()
    warehouse.write(kit.TEST_A, TableWrite(TASKS, kit.tasks_frame(kit.TEST_A, 2)))
    bad = kit.tasks_frame(kit.TEST_A, 3)
    bad.loc[2, "session_id"] = None  # NOT NULL: refused by the INSERT, after the DELETE ran
    with pytest.raises(Exception, match=r"(?i)not null"):
        warehouse.write(kit.TEST_A, TableWrite(TASKS, bad))
    kit.assert_same_frame(warehouse.read(TASKS, kit.TEST_A), kit.tasks_frame(kit.TEST_A, 2))

    assert warehouse.delete_test(kit.TEST_A)["tasks"] == 2
    pd.testing.assert_frame_equal(warehouse.read(TASKS, kit.TEST_A), empty_frame(TASKS))


def test_deleting_a_test_also_deletes_its_rows_from_derived_tables(kit, fake_snowflake, password_env) -> None:
    warehouse = snowflake_warehouse()
    for test_id in (kit.TEST_A, kit.TEST_B):
        warehouse.write(test_id, TableWrite(TASKS, kit.tasks_frame(test_id, 2)))
    history = f"{DATABASE}.usertesting_marts.qx_score_history"  # as dbt creates it: unquoted
    _query(f"CREATE SCHEMA {DATABASE}.usertesting_marts")
    _query(f"CREATE TABLE {history} (test_id VARCHAR, qx_score FLOAT)")
    _query(f"INSERT INTO {history} VALUES ('{kit.TEST_A}', 70), ('{kit.TEST_A}', 75), ('{kit.TEST_B}', 60)")

    derived = [("usertesting_marts", "qx_score_history"), ("usertesting_marts", "never_built")]
    deleted = warehouse.delete_test(kit.TEST_A, derived=derived)

    assert deleted == {"tasks": 2, "usertesting_marts.qx_score_history": 2}
    assert _query(f"SELECT test_id, qx_score FROM {history}") == [(kit.TEST_B, 60.0)]
    assert _query(COUNTS) == [(kit.TEST_B, 2)]


def test_write_many_in_a_with_block_commits_every_table_or_none(kit, fake_snowflake, password_env) -> None:
    tasks = kit.tasks_frame(kit.TEST_A, 2)
    sessions = to_frame(SESSIONS, [{"test_id": kit.TEST_A, "session_id": f"session-{i}"} for i in range(2)])
    no_session = to_frame(SESSIONS, [{"test_id": kit.TEST_A, "session_id": None}])
    with snowflake_warehouse() as warehouse:  # one connection for every call
        results = warehouse.write_many(kit.TEST_A, [TableWrite(TASKS, tasks), TableWrite(SESSIONS, sessions)])
        assert [(r.rows_inserted, r.partition_rows) for r in results] == [(2, 2), (2, 2)]
        # The table holds both tests' rows; the partition only this test's.
        other = warehouse.write_many(kit.TEST_B, [TableWrite(TASKS, kit.tasks_frame(kit.TEST_B, 3))])
        assert [(r.table_rows, r.partition_rows) for r in other] == [(5, 3)]
        writes = [TableWrite(TASKS, kit.tasks_frame(kit.TEST_A, 3)), TableWrite(SESSIONS, no_session)]
        with pytest.raises(Exception, match=r"(?i)not null"):
            warehouse.write_many(kit.TEST_A, writes)
        kit.assert_same_frame(warehouse.read(TASKS, kit.TEST_A), tasks)
        kit.assert_same_frame(warehouse.read(SESSIONS, kit.TEST_A), sessions)


def test_unreachable_snowflake_fails_with_what_to_do(kit, instance, password_env) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manager = snowflake_io_manager().model_copy(
        update={"host": "127.0.0.1", "port": port, "protocol": "http", "login_timeout": 2}
    )
    with pytest.raises(WarehouseUnavailableError) as raised:
        _materialize(kit, instance, {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 1)}, kit.TEST_A, manager=manager)
    message = str(raised.value)
    assert "Snowflake warehouse (account acme-test, database UT_DB)" in message
    assert "SNOWFLAKE_" in message and "landing area" in message
    assert "hunter2" not in message


def test_downstream_loads_partition_and_json_is_queryable_text(
    kit, instance, fake_snowflake, password_env
) -> None:
    frames = {
        kit.TEST_A: kit.tasks_frame(kit.TEST_A, 4, answer={"kind": "nps"}),
        kit.TEST_B: kit.tasks_frame(kit.TEST_B, 2, answer={"kind": "other"}),
    }
    loaded: dict[str, pd.DataFrame] = {}
    _materialize(kit, instance, frames, kit.TEST_B, loaded)
    _materialize(kit, instance, frames, kit.TEST_A, loaded)
    kit.assert_same_frame(loaded[kit.TEST_A], frames[kit.TEST_A])
    kit.assert_same_frame(loaded[kit.TEST_B], frames[kit.TEST_B])

    rows = _query(
        "SELECT position, PARSE_JSON(answer_json):answer.nps::int, PARSE_JSON(answer_json):kind::string "
        f"FROM {DATABASE}.usertesting.tasks WHERE test_id = '{kit.TEST_A}' ORDER BY position"
    )
    assert rows == [(i, i, "nps") for i in range(4)]


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey, passphrase: bytes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    ).decode()


def _env_var_name(value: object) -> str | None:
    return value.env_var_name if isinstance(value, dg.EnvVar) else None


def test_key_pair_preferred_over_password_and_secrets_only_referenced(password_env, monkeypatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY", "-----BEGIN ENCRYPTED PRIVATE KEY-----...")
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "s3cret")
    manager = snowflake_io_manager()
    assert isinstance(manager, UserTestingSnowflakeIOManager)
    assert manager.password is None  # dagster-snowflake refuses password and key together
    assert _env_var_name(manager.private_key) == "SNOWFLAKE_PRIVATE_KEY"
    assert _env_var_name(manager.private_key_password) == "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
    assert manager.private_key_path is None
    assert _env_var_name(manager.account) == "SNOWFLAKE_ACCOUNT"
    assert _env_var_name(manager.role) == "SNOWFLAKE_ROLE"


def test_password_auth_and_missing_settings(password_env, monkeypatch) -> None:
    manager = snowflake_io_manager()
    assert _env_var_name(manager.password) == "SNOWFLAKE_PASSWORD"
    # Outside a run (the CLI's forget) the client resolves the variables itself.
    assert manager.client().description == f"The Snowflake warehouse (account acme-test, database {DATABASE})"
    assert manager.private_key is None and manager.private_key_password is None

    monkeypatch.delenv("SNOWFLAKE_PASSWORD")
    monkeypatch.delenv("SNOWFLAKE_DATABASE")
    with pytest.raises(SnowflakeConfigError, match=r"SNOWFLAKE_DATABASE.*SNOWFLAKE_PASSWORD"):
        snowflake_io_manager()


@pytest.mark.parametrize("source", ["pem_text_with_escaped_newlines", "pem_file"])
def test_key_pair_resolves_to_connection_key(
    kit, instance, fake_snowflake, password_env, monkeypatch, tmp_path: Path, source: str
) -> None:
    key = _rsa_key()
    pem = _pem(key, b"s3cret")
    if source == "pem_file":
        path = tmp_path / "rsa_key.p8"
        path.write_text(pem)
        monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PATH", str(path))
    else:
        monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY", pem.replace("\n", "\\n"))  # as a one-line secret
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "s3cret")

    result = _materialize(kit, instance, {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 1)}, kit.TEST_A)

    connect_kwargs = snowflake.connector.connect.call_args.kwargs  # fakesnow's patch is a Mock
    assert "password" not in connect_kwargs
    sent = serialization.load_der_private_key(connect_kwargs["private_key"], password=None)
    assert sent.public_key().public_numbers() == key.public_key().public_numbers()
    assert connect_kwargs["account"] == "acme-test" and connect_kwargs["database"] == DATABASE
    assert connect_kwargs["schema"] == "usertesting"
    assert "s3cret" not in repr(result.dagster_run.run_config)
    assert "PRIVATE KEY" not in repr(result.dagster_run.run_config)


def test_normalise_private_key() -> None:
    assert normalise_private_key("  -----BEGIN X-----\\nabc\\n-----END X-----\\n ") == (
        "-----BEGIN X-----\nabc\n-----END X-----"
    )
    assert normalise_private_key("TUlJQmFzZTY0") == "TUlJQmFzZTY0"  # base64 passes through


def test_every_table_is_created_in_fakesnow(kit, fake_snowflake, password_env) -> None:
    warehouse = snowflake_warehouse()
    for table in ALL_TABLES.values():
        warehouse.write(kit.TEST_A, TableWrite(table, empty_frame(table)))
        pd.testing.assert_frame_equal(warehouse.read(table, kit.TEST_A), empty_frame(table))
        described = _query(f"DESCRIBE TABLE {DATABASE}.usertesting.{table.name}")
        assert [row[0].lower() for row in described] == table.column_names


def test_an_unpartitioned_table_is_replaced_whole_in_fakesnow(
    kit, instance, fake_snowflake, password_env
) -> None:
    _materialize(kit, instance, {kit.TEST_A: kit.tasks_frame(kit.TEST_A, 2)}, kit.TEST_A)
    runs = [{kit.TEST_A: "Checkout", kit.TEST_B: "Pricing"}, {kit.TEST_B: "Pricing v2"}]
    loaded: list[pd.DataFrame] = []
    resources = {"io_manager": snowflake_io_manager()}

    dg.materialize(kit.build_tests_assets(runs, loaded), instance=instance, resources=resources)
    second = dg.materialize(kit.build_tests_assets(runs, loaded), instance=instance, resources=resources)

    assert _query(f"SELECT test_id, title FROM {DATABASE}.usertesting.tests") == [(kit.TEST_B, "Pricing v2")]
    meta = {
        k: v.value
        for k, v in second.asset_materializations_for_node("usertesting__tests")[0].metadata.items()
    }
    # One table for the credential: no partition, so no partition row count.
    assert meta == {"dagster/row_count": 1, "rows_inserted": 1, "rows_deleted": 2}
    pd.testing.assert_frame_equal(loaded[-1], kit.tests_frame({kit.TEST_B: "Pricing v2"}))
    assert _query(COUNTS) == [(kit.TEST_A, 2)]


def test_typed_ids_are_bound_as_the_real_connector_binds_them(
    kit, fake_snowflake, password_env, monkeypatch
) -> None:
    # The real connector binds parameters client-side and refuses a type it does not know by its exact
    # class, a str subclass such as TestId included; fakesnow skips that step, so it is put back here.
    from fakesnow.cursor import FakeSnowflakeCursor
    from snowflake.connector.converter import SnowflakeConverter

    converter, execute = SnowflakeConverter(), FakeSnowflakeCursor.execute

    def binding_execute(self: Any, command: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        for value in params.values() if isinstance(params, dict) else params or ():
            converter.to_snowflake(value)
        return execute(self, command, params, *args, **kwargs)

    monkeypatch.setattr(FakeSnowflakeCursor, "execute", binding_execute)
    test_id = TestId(kit.TEST_A)
    warehouse = snowflake_warehouse()
    warehouse.write(test_id, TableWrite(TASKS, kit.tasks_frame(test_id, 0, sessions=kit.session_ids(2))))
    rows = kit.tasks_frame(test_id, 0, sessions=["session-00001"])
    warehouse.write(test_id, TableWrite(TASKS, rows, sessions=frozenset(["session-00001"])))
    assert len(warehouse.read(TASKS, test_id)) == 2
    assert warehouse.delete_test(test_id)["tasks"] == 2

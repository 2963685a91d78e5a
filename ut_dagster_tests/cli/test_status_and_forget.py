"""`ut-dagster status` and `ut-dagster forget`, against a real instance after a real sync."""

import io

import duckdb

from ut_dagster.cli.forget import run_forget
from ut_dagster.cli.status import collect_status, run_status
from ut_dagster.defs.usertesting.partitions import add_tests
from ut_dagster.lib.object_store import ObjectStoreResource


def test_status_shows_each_test_listed_landed_and_what_catching_up_costs_without_a_request(make_cli):
    cli = make_cli()
    synced, other = cli.sandbox.test_ids[:2]
    assert cli.sync(synced)[0] == 0
    new = cli.sandbox.add_sessions(synced, 3)
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    cli.instance.add_dynamic_partitions("usertesting_tests", [other])  # registered, never synced
    requests_before = len(cli.sandbox.requests)

    out = io.StringIO()
    assert run_status(cli.settings, instance=cli.instance, store=store, out=out) == 0
    assert len(cli.sandbox.requests) == requests_before

    sessions = len(cli.sandbox.dataset.session_ids(synced)) - len(new)
    status = collect_status(cli.instance, store, synced)
    assert (status.listed, status.api_total, status.landed, status.behind) == (
        sessions,
        sessions,
        sessions,
        0,
    )
    assert status.last_run_status == "success" and status.last_success_at is not None
    # Up to date: one listing check and the QXscores request.
    assert status.requests_to_catch_up(page_size=500) == 2
    never = collect_status(cli.instance, store, other)
    assert (never.listed, never.api_total, never.landed, never.last_run_at) == (0, None, 0, None)

    table = out.getvalue().splitlines()
    assert table[0].split()[:3] == ["TEST", "LISTED/API", "LANDED"]
    row = next(line for line in table if line.startswith(synced))
    assert f"{sessions}/{sessions}" in row and "success" in row and "2 requests" in row
    assert "never synced" in next(line for line in table if line.startswith(other))


def test_forget_unregisters_a_test_and_keeps_its_data(make_cli, capsys):
    cli = make_cli()
    test_id = cli.sandbox.test_ids[0]
    assert cli.sync(test_id)[0] == 0

    assert run_forget(test_id, settings=cli.settings, instance=cli.instance) == 0
    assert cli.registered() == set()
    assert "Its data is kept" in capsys.readouterr().out
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert collect_status(cli.instance, store, test_id).landed > 0

    assert run_forget(test_id, settings=cli.settings, instance=cli.instance) == 1
    assert "is not registered" in capsys.readouterr().err


def test_forget_with_delete_data_removes_what_was_synced(make_cli, capsys):
    cli = make_cli()
    test_id = cli.sandbox.test_ids[0]
    assert cli.sync(test_id)[0] == 0

    assert run_forget(test_id, delete_data=True, settings=cli.settings, instance=cli.instance) == 0
    assert cli.registered() == set()
    assert "Deleted " in capsys.readouterr().out
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    status = collect_status(cli.instance, store, test_id)
    assert (status.listed, status.landed) == (0, 0)


def test_a_test_id_pasted_in_upper_case_is_synced_as_the_one_test_it_is(make_cli):
    cli = make_cli()
    test_id = cli.sandbox.test_ids[0]
    assert cli.sync(test_id.upper())[0] == 0
    assert cli.sync(test_id)[0] == 0
    assert add_tests(cli.instance, [test_id.upper()]) == [test_id]
    assert cli.registered() == {test_id}
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert {key.split("/")[1] for key in store.list_keys("raw/")} == {test_id}
    sessions = cli.sandbox.dataset.session_ids(test_id)
    assert collect_status(cli.instance, store, test_id).landed == len(sessions)
    with duckdb.connect(str(cli.settings.duckdb_path), read_only=True) as db:
        rows = db.sql("select test_id, session_id from usertesting.sessions").fetchall()
    assert sorted(rows) == sorted((test_id, s) for s in sessions)  # each session once, under one test

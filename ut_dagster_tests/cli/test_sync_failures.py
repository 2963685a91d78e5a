"""How `ut-dagster sync` ends when tests fail: one clear line each, the rest in a log file."""

import re
from pathlib import Path

import duckdb

UNKNOWN_TEST = "0badc0de-0000-4000-8000-000000000000"


def test_a_test_the_credential_cannot_see_fails_alone_and_is_not_left_registered(make_cli, capfd):
    cli = make_cli()
    b, c = cli.sandbox.test_ids[:2]
    code, out, err = cli.sync(UNKNOWN_TEST, b, c)

    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert failed[0].startswith(f"FAILED {UNKNOWN_TEST}: usertesting__raw_sessions: ")
    assert "ut-dagster tests" in failed[0]  # what to check
    assert "It was not registered." in failed[0]
    assert re.search(r"\(run [0-9a-f-]{36}\)$", failed[0])
    # B and C were synced in full although A came first.
    with duckdb.connect(str(cli.settings.duckdb_path), read_only=True) as db:
        synced = {r[0] for r in db.sql("select distinct test_id from usertesting.sessions").fetchall()}
    assert synced == {b, c}
    # Its very first listing was a 404: not left as a partition for every schedule tick to retry.
    assert cli.registered() == {b, c}
    assert "Traceback" not in out + err + capfd.readouterr().err


def test_a_failed_sync_ends_with_one_line_and_keeps_the_tracebacks_in_a_log_file(make_cli, capfd):
    cli = make_cli(resource_overrides={"client_secret": "not-the-secret"})
    test_id = cli.sandbox.test_ids[0]
    code, out, err = cli.sync(test_id)

    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"FAILED {test_id}: usertesting__raw_sessions: ")
    assert "USERTESTING_CLIENT_SECRET" in lines[0]
    log_path = lines[1].split("Details and tracebacks: ")[1].split(" (or run again")[0]
    log = Path(log_path).read_text(encoding="utf-8")
    assert "UserTestingAuthError" in log and 'File "' in log  # the stack, for whoever debugs
    stderr = capfd.readouterr().err
    assert "Traceback" not in out + stderr
    assert "not-the-secret" not in out + err + stderr + log
    # A credential problem is not a missing test: the test stays registered.
    assert cli.registered() == {test_id}


def test_verbose_shows_the_dagster_events(make_cli, capfd):
    cli = make_cli(resource_overrides={"client_secret": "not-the-secret"})
    code, _, _ = cli.sync(cli.sandbox.test_ids[0], verbose=True)
    assert code == 1
    assert 'File "' in capfd.readouterr().err

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


def test_sync_a_b_c_with_a_revoked_syncs_b_and_c_then_names_a(make_cli):
    cli = make_cli()
    a, b, c = cli.sandbox.test_ids[:3]
    assert cli.sync(a)[0] == 0
    cli.sandbox.dataset.revoke_test(a, 404)

    code, out, err = cli.sync(a, b, c)
    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and failed[0].startswith(f"FAILED {a}: ")
    assert "ut-dagster forget TEST_ID" in failed[0]
    assert out.count(": success") == 2
    with duckdb.connect(str(cli.settings.duckdb_path), read_only=True) as db:
        synced = {r[0] for r in db.sql("select distinct test_id from usertesting.sessions").fetchall()}
    assert synced == {a, b, c}
    # A was synced before: it stays registered (and its data kept) until someone forgets it.
    assert cli.registered() == {a, b, c}


def test_one_test_refused_with_401_while_the_others_sync_names_that_test_s_access(make_cli):
    cli = make_cli()
    a, b, c = cli.sandbox.test_ids[:3]
    cli.sandbox.revoke_test(b, status=401)

    code, out, err = cli.sync(a, b, c)

    assert code == 1 and out.count(": success") == 2
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and failed[0].startswith(f"FAILED {b}: ")
    line = failed[0].lower()
    assert "access" in line and "2 other tests synced" in line
    # The secrets work: nothing may send the user to rotate them.
    assert "check usertesting_client" not in line and "usertesting_scope" not in line
    assert cli.registered() == {a, b, c}  # refused is not gone: kept until someone forgets it


def test_every_test_refused_with_401_keeps_the_credential_advice(make_cli):
    cli = make_cli(resource_overrides={"client_secret": "not-the-secret"})
    code, _, err = cli.sync(*cli.sandbox.test_ids[:2])
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert code == 1 and len(failed) == 2
    assert all("USERTESTING_CLIENT_SECRET" in line for line in failed)

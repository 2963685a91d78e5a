"""`ut-dagster` as a user runs it: a real subprocess, a real Dagster instance, killed and rerun."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import duckdb

from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec


def cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ut_dagster.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_invalid_test_id_is_refused_before_anything_happens(start_sandbox, tmp_path, cli_env):
    sandbox = start_sandbox()
    env = cli_env(sandbox)
    result = cli("sync", sandbox.test_ids[0], "not-a-test-id", env=env)
    assert result.returncode == 2
    assert "'not-a-test-id' is not a valid UserTesting test ID" in result.stderr
    assert sandbox.requests == []
    assert not (tmp_path / "dagster_home").exists()


def test_failed_run_exits_non_zero_with_a_clear_message(start_sandbox, tmp_path, cli_env):
    sandbox = start_sandbox()
    env = {**cli_env(sandbox), "USERTESTING_CLIENT_SECRET": "not-the-secret"}
    result = cli("sync", sandbox.test_ids[0], env=env)
    assert result.returncode == 1
    assert "USERTESTING_CLIENT_SECRET" in result.stderr
    assert "not-the-secret" not in result.stdout + result.stderr


def test_killed_mid_sync_then_rerun_completes_without_asking_twice(start_sandbox, tmp_path, cli_env):
    sandbox = start_sandbox(
        studies=(StudySpec(THINK_OUT_LOUD, 14), StudySpec(SURVEY, 4)),
        requests_per_window=5,
        window_seconds=0.5,
    )
    # The killed sync's hold on the test's API step ends 10 s after the kill (renewed every 3 s
    # while it lived): the rerun waits that out. Nothing else contends for the step here.
    env = {**cli_env(sandbox), "USERTESTING_STEP_LEASE_SECONDS": "10"}
    test_id = sandbox.test_ids[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "ut_dagster.cli", "sync", test_id],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len([r for r in sandbox.requests if "/api/v3/" in r["path"]]) < 6:
        assert process.poll() is None, "the sync finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    result = cli("sync", *sandbox.test_ids, env=env)
    assert result.returncode == 0, result.stderr

    per_session = Counter(r["path"] for r in sandbox.requests if r["path"] != "/api/v2/sessionResults")
    # Only a response in flight at the moment of the kill can have been paid for twice.
    assert sum(count - 1 for count in per_session.values()) <= 1
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as db:
        synced = {r[0] for r in db.sql("select session_id from usertesting.sessions").fetchall()}
    assert synced == {s for t in sandbox.test_ids for s in sandbox.dataset.session_ids(t)}
    assert "usertesting/sessions" in result.stdout


def test_help_and_a_duckdb_code_location_do_not_import_snowflake_or_s3(tmp_path):
    code = (
        "import sys, ut_dagster.cli\n"
        "import ut_dagster.definitions\n"
        "heavy = [m for m in ('dagster_snowflake', 'snowflake.connector', 'dagster_aws.s3', 'boto3') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "UT_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_tests_command_lists_what_the_credential_can_sync(start_sandbox, tmp_path, cli_env):
    sandbox = start_sandbox()
    result = cli("tests", env=cli_env(sandbox))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    syncable = {line.split()[0] for line in lines if line.split()[1] == "syncable"}
    assert syncable == set(sandbox.test_ids)
    assert any(line.split()[1] == "classic" for line in lines)  # legacy studies are shown, marked


def test_two_syncs_of_one_test_from_different_dagster_homes_ask_for_each_session_once(
    start_sandbox, tmp_path, cli_env
):
    # Seen: without a shared pool limit (any Dagster home the CLI did not create), two overlapping
    # runs fetched every new session twice. The test's step lease lives with the shared rate budget.
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 40),), requests_per_window=10, window_seconds=1.0)
    homes = [tmp_path / "home-a", tmp_path / "home-b"]
    for home in homes:
        home.mkdir()
        (home / "dagster.yaml").write_text("{}\n")  # a user's own instance: no usertesting_api pool
    syncs = [
        subprocess.Popen(
            [sys.executable, "-m", "ut_dagster.cli", "sync", sandbox.test_ids[0]],
            env={**cli_env(sandbox), "DAGSTER_HOME": str(home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for home in homes
    ]
    results = [sync.communicate(timeout=300) for sync in syncs]

    assert [sync.returncode for sync in syncs] == [0, 0], results
    details = Counter(r["path"] for r in sandbox.requests if r["path"].startswith("/api/v3/"))
    assert len(details) == 40 and set(details.values()) == {1}

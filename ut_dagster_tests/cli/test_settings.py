"""Configuration errors fail at once, naming the variable: before any request, without retries."""

import os
import subprocess
import sys

import pytest
from dagster import EnvVar

from dagster_usertesting.defs.resources import warehouse_io_manager
from dagster_usertesting.settings import SettingsError
from ut_dagster.environment import Settings

TEST_ID = "d09cc39d-0dc1-4110-bf5a-b1555ddc42b3"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("UT_WAREHOUSE", "postgres"),
        ("UT_SYNC_CRON", "every night"),
        ("UT_SYNC_CRON", "0 2 * *"),
        ("UT_FRESHNESS_HOURS", "a day"),
        ("UT_FRESHNESS_LAG_MINUTES", "-5"),
        ("UT_RECONCILE_HOURS", "-1"),
        ("UT_DUCKDB_LOCK_TIMEOUT_SECONDS", "soon"),
        ("UT_DELETE_MAX_SHARE", "1.5"),
        ("UT_DELETE_MAX_SESSIONS", "0"),
        ("UT_DELETE_CONFIRM_HOURS", "never"),
        ("UT_SESSION_RETRY_MINUTES", "-3"),
        ("UT_SESSION_MAX_FAILURES", "2.5"),
        ("UT_ALERT_MIN_NPS", "high"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_defaults_and_dagster_home():
    settings = Settings.from_env({"UT_DATA_DIR": "/srv/ut"})
    assert settings.dagster_home == settings.data_dir / "dagster_home"
    assert settings.sync_cron == "0 2 * * *"
    assert settings.reconcile_hours == 24.0
    assert warehouse_io_manager(settings).lock_timeout_s == 60.0
    shorter = Settings.from_env({"UT_DATA_DIR": "/srv/ut", "UT_DUCKDB_LOCK_TIMEOUT_SECONDS": "1.5"})
    assert warehouse_io_manager(shorter).lock_timeout_s == 1.5
    assert Settings.from_env({"DAGSTER_HOME": "/srv/dagster"}).dagster_home.as_posix() == "/srv/dagster"


def test_a_store_that_cannot_be_written_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = Settings.from_env(
        {"UT_DATA_DIR": str(tmp_path / "data"), "UT_OBJECT_STORE": str(blocker / "objects")}
    )
    with pytest.raises(SettingsError, match="UT_OBJECT_STORE: cannot write to"):
        settings.check_writable()


def test_the_cli_stops_at_a_bad_setting_before_any_request(start_sandbox, cli_env, tmp_path):
    sandbox = start_sandbox()
    for variable, value in [("UT_WAREHOUSE", "postgres"), ("UT_SYNC_CRON", "nightly")]:
        env = {**cli_env(sandbox), variable: value}
        result = subprocess.run(
            [sys.executable, "-m", "ut_dagster.cli", "sync", TEST_ID],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2
        assert result.stderr.startswith(f"configuration error: {variable}")
        assert len(result.stderr.strip().splitlines()) == 1
    assert sandbox.requests == []
    assert not os.path.exists(tmp_path / "dagster_home")


def test_usertesting_settings_are_parsed_by_resource_field_with_secrets_left_in_the_environment():
    settings = Settings.from_env(
        {
            "USERTESTING_BASE_URL": "https://api.example",
            "USERTESTING_PAGE_SIZE": "50",
            "USERTESTING_CLIENT_ID": "client",
            "USERTESTING_CLIENT_SECRET": "the-secret-value",
            "USERTESTING_SCOPE": "",
        }
    ).usertesting
    assert settings.fields == {
        "base_url": "https://api.example",
        "page_size": "50",
        "client_id": "client",
        "client_secret": EnvVar("USERTESTING_CLIENT_SECRET"),
    }
    assert "the-secret-value" not in repr(settings)
    assert settings.has_credential
    assert not Settings.from_env({"USERTESTING_CLIENT_ID": "client"}).usertesting.has_credential

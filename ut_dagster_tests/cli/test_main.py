"""Arguments are checked before anything is read or written."""

import pytest

from ut_dagster.cli.main import main


def test_forget_refuses_an_id_that_is_not_a_test_id(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("UT_DATA_DIR", str(tmp_path / "data"))
    assert main(["forget", "my-test"]) == 2
    assert "'my-test' is not a valid UserTesting test ID" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_status_with_nothing_registered_says_how_to_start(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("UT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["status"]) == 0
    assert "ut-dagster sync TEST_ID" in capsys.readouterr().out


CREDENTIAL_VARIABLES = ("USERTESTING_ACCESS_TOKEN", "USERTESTING_CLIENT_ID", "USERTESTING_CLIENT_SECRET")


@pytest.mark.parametrize("command", [["tests"], ["sync", "3fa85f64-5717-4562-b3fc-2c963f66afa6"]])
def test_a_command_that_needs_the_api_without_a_credential_is_a_configuration_error(
    command, capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("UT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    assert main(command) == 2

    err = capsys.readouterr().err
    assert "USERTESTING_CLIENT_ID" in err and "USERTESTING_ACCESS_TOKEN" in err
    # Nothing was started: no test registered, no run, no state written.
    assert not (tmp_path / "data").exists() and not (tmp_path / "dagster_home").exists()


def test_tests_with_an_unusable_api_setting_is_a_configuration_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("UT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("USERTESTING_ACCESS_TOKEN", "a-token")
    monkeypatch.setenv("USERTESTING_BASE_URL", "api.usertesting.com")  # no scheme: nothing can be sent

    assert main(["tests"]) == 2
    assert "USERTESTING_BASE_URL" in capsys.readouterr().err

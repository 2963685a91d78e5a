"""Arguments are checked before anything is read or written."""

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

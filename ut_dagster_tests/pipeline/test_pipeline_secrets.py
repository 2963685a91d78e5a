"""Secrets configured the production way (environment variables) never surface in Dagster."""

from dagster import DagsterInstance

from dagster_usertesting.testing import SURVEY, StudySpec
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


def test_client_secret_and_tokens_stay_out_of_run_config_events_and_metadata(
    start_sandbox, tmp_path, monkeypatch, capsys
):
    secret = "s3cr3t-0f-the-client-7d1e"
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 3),), client_secret=secret)
    environment = {
        "UT_DATA_DIR": str(tmp_path / "data"),
        "USERTESTING_BASE_URL": sandbox.url,
        "USERTESTING_TOKEN_URL": sandbox.token_url,
        "USERTESTING_CLIENT_ID": sandbox.config.client_id,
        "USERTESTING_CLIENT_SECRET": secret,
        "USERTESTING_REQUESTS_PER_MINUTE": "50",
        "USERTESTING_RATE_WINDOW_SECONDS": "1",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(Settings.from_env())

    with DagsterInstance.ephemeral() as instance:
        assert run_sync(sandbox.test_ids, defs=defs, instance=instance) == 0
        [run] = instance.get_runs()
        events = instance.all_logs(run.run_id)
        recorded = repr(run.run_config) + "".join(repr(e) for e in events)

    issued = [r for r in sandbox.token_requests if r["status"] == 200]
    assert issued, "the run authenticated with client credentials"
    assert secret not in recorded
    assert secret not in repr(defs.resources["usertesting"])
    output = capsys.readouterr()
    assert secret not in output.out + output.err

"""`ut-dagster status`'s catch-up estimate against real syncs: what it says the next sync of each test
will ask the API for, then the requests that sync really spends (the sandbox's log)."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from dagster import AssetKey

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME, tests_refresh_job
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec
from ut_dagster.cli.status import run_status

ESTIMATE = re.compile(r"(≥?)(\d+) requests?, ~")


def _status(cli) -> str:
    out = io.StringIO()
    store = ObjectStoreResource(url=cli.settings.object_store).store()
    assert run_status(cli.settings, instance=cli.instance, store=store, out=out) == 0
    return out.getvalue()


def _estimates(cli) -> dict[str, tuple[str, int]]:
    """Test ID -> ("≥" or "", requests) as the status table shows them."""
    lines = _status(cli).splitlines()
    found = {}
    for test_id in cli.sandbox.test_ids:
        row = next(line for line in lines if test_id in line)
        bound, requests = ESTIMATE.search(row).groups()
        found[test_id] = (bound, int(requests))
    return found


def _spent_by_sync(cli, test_id: str) -> int:
    before = len(cli.sandbox.requests)
    code, _, err = cli.sync(test_id)
    assert code == 0, err
    return len(cli.sandbox.requests) - before


def _list_only(cli, test_id: str) -> None:
    """Only the listing step, as a sync that stopped after it (killed, or its details failing)."""
    job = cli.defs.resolve_job_def(SYNC_JOB_NAME)
    result = job.execute_in_process(
        instance=cli.instance,
        partition_key=test_id,
        asset_selection=[AssetKey(["usertesting", "raw_sessions"])],
        raise_on_error=False,
    )
    assert result.success


@pytest.mark.parametrize("test_list", ["refreshed", "never refreshed"])
def test_the_catch_up_estimate_is_what_the_next_sync_of_each_test_spends(make_cli, test_list):
    # The sandbox's default tests: think-out-loud (25 sessions), interaction with QXscores (20), survey
    # (30), live conversation (6). With the test list, a sync knows which have no transcripts; without
    # it, it finds out by asking (no_transcript_probe).
    cli = make_cli()
    if test_list == "refreshed":
        assert (
            cli.defs.resolve_job_def(tests_refresh_job.name).execute_in_process(instance=cli.instance).success
        )
    tests = cli.sandbox.test_ids
    for test_id in tests:
        assert cli.sync(test_id)[0] == 0

    # Fully synced: the next sync asks one listing page each (it was 32 and 22 for the survey and the
    # interaction test, counting a transcript per session and a QXscore per test).
    estimates = _estimates(cli)
    assert (
        {t: _spent_by_sync(cli, t) for t in tests}
        == {t: n for t, (_, n) in estimates.items()}
        == {t: 1 for t in tests}
    )
    assert all(bound == "" for bound, _ in estimates.values())

    # New sessions, listed by a sync that stopped after its listing: details, transcripts where the
    # test has them, and the QXscore, which changes with the sessions.
    for test_id, new in zip(tests, (3, 2, 2, 1), strict=True):
        cli.sandbox.add_sessions(test_id, new)
        _list_only(cli, test_id)
    estimates = _estimates(cli)
    spent = {t: _spent_by_sync(cli, t) for t in tests}
    assert spent == {t: n for t, (_, n) in estimates.items()}
    think_aloud, interaction, survey, _ = tests
    assert spent[think_aloud] >= 1 + 3 + 3 and spent[interaction] >= 1 + 2 + 1 and spent[survey] == 1 + 2


def test_a_test_never_listed_is_shown_as_a_lower_bound_with_its_title(make_cli):
    cli = make_cli()
    assert cli.defs.resolve_job_def(tests_refresh_job.name).execute_in_process(instance=cli.instance).success
    survey = cli.sandbox.test_ids[2]
    cli.instance.add_dynamic_partitions("usertesting_tests", [survey])

    row = next(line for line in _status(cli).splitlines() if survey in line)

    assert row.startswith("Brand perception survey — Q4 ☕")  # the TEST column: its title
    assert ESTIMATE.search(row).group(1) == "≥" and "not listed yet" in row


def test_the_estimate_counts_a_due_reconciliation_walk_and_skips_sessions_backing_off(make_cli):
    # Pages of 10, so that walking a whole listing costs more than the incremental page.
    cli = make_cli(
        resource_overrides={"page_size": 10},
        env={"USERTESTING_PAGE_SIZE": "10"},
        studies=(StudySpec(SURVEY, 30), StudySpec(THINK_OUT_LOUD, 8)),
    )
    survey, think_aloud = cli.sandbox.test_ids
    for test_id in (survey, think_aloud):
        assert cli.sync(test_id)[0] == 0

    # A day later: the survey's reconciliation walk is due (UT_RECONCILE_HOURS, 24 h by default).
    landing = Landing(ObjectStoreResource(url=cli.settings.object_store).store())
    listing = landing.read_listing(survey)
    listing.reconciled_at = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    landing.write_listing(listing)
    # New think-aloud sessions, one of which UserTesting fails to serve (503): it backs off.
    new = cli.sandbox.add_sessions(think_aloud, 3)
    cli.sandbox.config.failing_session_ids = frozenset(new[:1])
    assert cli.sync(think_aloud)[0] == 0
    cli.sandbox.add_sessions(think_aloud, 2)
    _list_only(cli, think_aloud)

    estimates = _estimates(cli)
    spent = {t: _spent_by_sync(cli, t) for t in (survey, think_aloud)}
    assert spent == {t: n for t, (_, n) in estimates.items()}
    # 30 sessions in pages of 10, and the empty page after a full last one that confirms the end.
    assert spent[survey] == 4
    # A listing page, then the details and transcripts of the 2 newest; the failing one waits.
    assert spent[think_aloud] == 1 + 2 + 2

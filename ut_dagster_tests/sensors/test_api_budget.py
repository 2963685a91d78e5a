"""`usertesting/api_budget`, observed on a real Dagster instance after syncs, sensor ticks and the
test-list refresh against the sandbox: its daily counts are the sandbox's request log."""

from collections import Counter

import pytest
from dagster import AssetKey, DagsterInstance

from dagster_usertesting.defs.assets.api_budget import API_BUDGET_JOB_NAME, API_BUDGET_KEY
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.usertesting_api.stats import ENDPOINTS
from dagster_usertesting.testing import SURVEY, StudySpec

ALWAYS_DUE = {"active_minutes": 0, "dormant_hours": 0}


def _observe(rig) -> dict:
    result = rig.defs.resolve_job_def(API_BUDGET_JOB_NAME).execute_in_process(instance=rig.instance)
    assert result.success
    return _latest(rig.instance, API_BUDGET_KEY)


def _latest(instance: DagsterInstance, key: AssetKey) -> dict:
    [record] = instance.fetch_observations(key, limit=1).records
    return {k: v.value for k, v in record.asset_observation.metadata.items()}


def _table_counts(observation: dict, credential: str) -> Counter:
    """Requests per endpoint over every day the table shows, for one credential."""
    counts: Counter = Counter()
    for row in observation["daily"].records:
        if row.data["credential"] == credential:
            counts.update({e: row.data[e] for e in ENDPOINTS})
    return +counts


def test_daily_counts_equal_the_request_log_of_runs_sensor_ticks_and_the_test_list(make_rig):
    rig = make_rig(studies=(StudySpec(SURVEY, 3), StudySpec(SURVEY, 2)))
    first, second = rig.sandbox.test_ids
    assert rig.sync(first, second) == 0
    after_sync = len(rig.sandbox.requests)
    rig.sandbox.add_sessions(first, 1)
    assert rig.tick(**ALWAYS_DUE).run_requests
    after_tick = len(rig.sandbox.requests)
    assert after_tick > after_sync  # the sensor's own requests
    refresh = rig.defs.resolve_job_def("usertesting_tests_refresh").execute_in_process(instance=rig.instance)
    assert refresh.success

    observation = _observe(rig)

    logged = Counter(r["endpoint"] for r in rig.sandbox.requests)
    assert logged["workspaces"] > 0 and logged["list_sessions"] > 0 and logged["session_details"] > 0
    resource: UserTestingResource = rig.defs.resources["usertesting"]
    credential = resource.credential_label()
    assert observation["credential"] == credential
    assert _table_counts(observation, credential) == logged
    # Observing sent nothing.
    assert Counter(r["endpoint"] for r in rig.sandbox.requests) == logged
    # Today's numbers (the test ran within one UTC day unless the table has two rows for it).
    rows = [r.data for r in observation["daily"].records if r.data["credential"] == credential]
    if len(rows) == 1:
        assert observation["requests_today"] == sum(logged.values()) == rows[0]["requests"]
        assert observation["requests_by_endpoint_today"] == {**dict.fromkeys(ENDPOINTS, 0), **logged}
    assert observation["rate_limited_today"] == 0
    assert all(row["daily_limit"] == resource.daily_limit() for row in rows)


def test_the_limit_beside_the_counts_is_the_configured_pace_over_a_day():
    assert UserTestingResource().daily_limit() == 14_400
    assert UserTestingResource(requests_per_minute=5, rate_window_seconds=30).daily_limit() == 14_400
    assert UserTestingResource(requests_per_minute=20).daily_limit() == 28_800


@pytest.mark.parametrize("requests", [0, 144])
def test_share_used_is_requests_over_the_daily_limit(requests):
    from dagster_usertesting.defs.assets.api_budget import budget_observation
    from dagster_usertesting.lib.usertesting_api.usage import DailyUsage, utc_today

    today = utc_today()
    days = [DailyUsage("ut-abc", today, {"list_sessions": requests})] if requests else []
    observation = budget_observation(days, "ut-abc", 14_400, today)
    metadata = {k: getattr(v, "value", v) for k, v in observation.metadata.items()}
    assert metadata["share_of_daily_limit_today"] == ("1.00 %" if requests else "0.00 %")
    assert metadata["requests_today"] == requests
    assert [r.data["share_used_pct"] for r in metadata["daily"].records] == ([1.0] if requests else [])

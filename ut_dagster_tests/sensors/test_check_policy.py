"""The check policy over simulated time: who is checked when, and what it costs a day."""

import itertools
from collections import defaultdict

from ut_dagster.defs.usertesting.check_policy import (
    CheckPolicy,
    SensorMemory,
    TestState,
    checked,
    due_at,
    due_tests,
    run_failed,
    run_succeeded,
)

DAY, HOUR = 86400.0, 3600.0
DAILY_BUDGET = 10 * 60 * 24  # 14,400 requests


def simulate(policy: CheckPolicy, tests: list[str], active: set[str], days: float) -> dict[str, list[float]]:
    """Tick every `policy.tick_interval_s` for `days`; active tests always have a session from an hour ago."""
    states: dict[str, TestState] = {}
    checks: dict[str, list[float]] = defaultdict(list)
    now = 1_700_000_000.0
    start = now
    while now < start + days * DAY:
        for test_id in due_tests(tests, states, now, policy):
            newest = now - HOUR if test_id in active else start - 30 * DAY
            states[test_id] = checked(states.get(test_id, TestState()), now, newest)
            checks[test_id].append(now - start)
        now += policy.tick_interval_s
    return checks


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_active_tests_hourly_dormant_daily_for_about_five_percent_of_the_budget():
    tests = [f"test-{i:03}" for i in range(200)]
    active = set(tests[::10])  # 20 tests with sessions in the last 7 days
    checks = simulate(CheckPolicy(), tests, active, days=2.05)

    assert all(checks[t] for t in tests), "every test is checked"
    for test_id in active:
        assert max(gaps(checks[test_id])) <= HOUR
    for test_id in set(tests) - active:
        assert len(checks[test_id]) >= 2 and max(gaps(checks[test_id])) <= DAY

    second_day = sum(1 for times in checks.values() for t in times if DAY <= t < 2 * DAY)
    # 20 x 24 + 180 = 660, plus a little for checking one tick early rather than one tick late.
    assert 660 <= second_day <= 0.05 * DAILY_BUDGET


def test_settings_change_the_intervals():
    tests = [f"test-{i}" for i in range(10)]
    policy = CheckPolicy(active_interval_s=600, dormant_interval_s=2 * HOUR, tick_interval_s=30, batch=10)
    checks = simulate(policy, tests, {"test-0"}, days=0.5)
    assert max(gaps(checks["test-0"])) <= 600 and len(checks["test-0"]) >= 12 * 6
    assert max(gaps(checks["test-5"])) <= 2 * HOUR and len(checks["test-5"]) <= 7


def test_a_dormant_test_that_receives_sessions_becomes_active():
    policy = CheckPolicy()
    now = 1_700_000_000.0
    state = checked(TestState(), now, now - 30 * DAY)
    assert due_at(state, now, policy) > now + 23 * HOUR
    state = checked(state, now, now)  # the check found new sessions
    assert due_at(state, now, policy) <= now + HOUR


def test_batch_busy_and_priority():
    policy = CheckPolicy(batch=2)
    now = 1_700_000_000.0
    states = {
        "dormant-overdue": TestState(last_checked=now - 2 * DAY, last_activity=now - 30 * DAY),
        "active-due": TestState(last_checked=now - HOUR, last_activity=now - DAY),
        "active-not-due": TestState(last_checked=now - 60, last_activity=now - DAY),
    }
    tests = ["never-checked", *states]
    assert due_tests(tests, states, now, policy) == ["never-checked", "active-due"]
    assert due_tests(tests, states, now, policy, busy=frozenset({"never-checked"})) == [
        "active-due",
        "dormant-overdue",
    ]


def test_a_failed_run_is_retried_at_once_then_with_growing_delays():
    policy = CheckPolicy(tick_interval_s=60)
    now = 1_700_000_000.0
    state = checked(TestState(), now, now - 30 * DAY)
    delays = []
    for _ in range(8):
        state = run_failed(state, now, policy)
        delays.append(due_at(state, now, policy) - now)
        state = checked(state, now, None)
    assert delays[:4] == [0, 120, 240, 480]
    assert max(delays) == policy.active_interval_s
    assert run_succeeded(state).failures == 0 and due_at(run_succeeded(state), now, policy) > now


def test_cursor_round_trip_drops_unregistered_tests_and_ignores_old_cursors():
    memory = SensorMemory(123.0, {"a": TestState(1.0, 2.0, 1, 3.0), "gone": TestState(1.0)})
    again = SensorMemory.decode(memory.encode(keep=["a"]))
    assert again.last_tick == 123.0 and again.tests == {"a": TestState(1.0, 2.0, 1, 3.0)}
    assert SensorMemory.decode('{"next": 5}').tests == {}
    assert SensorMemory.decode("not json").tests == {}

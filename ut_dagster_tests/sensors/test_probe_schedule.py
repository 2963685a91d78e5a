"""The probe schedule over simulated time: who is probed when, and what it costs a day."""

import itertools
from collections import defaultdict
from collections.abc import Callable

from dagster_usertesting.defs.probe_schedule import (
    FailureStreak,
    ProbeSchedule,
    RunOutcome,
    SensorMemory,
    TestState,
    due_at,
    due_tests,
    failure_streak,
    gave_up,
    probed,
    run_cancelled,
)

DAY, HOUR = 86400.0, 3600.0
DAILY_BUDGET = 10 * 60 * 24  # 14,400 requests


def simulate(
    schedule: ProbeSchedule, tests: list[str], active: set[str], days: float
) -> dict[str, list[float]]:
    """Tick every `schedule.tick_interval_s` for `days`; active tests always have a session from 5 min ago
    (fielding now), the others none for 30 days."""
    states: dict[str, TestState] = {}
    probes: dict[str, list[float]] = defaultdict(list)
    now = 1_700_000_000.0
    start = now
    while now < start + days * DAY:
        for test_id in due_tests(tests, states, now, schedule):
            newest = now - 300 if test_id in active else start - 30 * DAY
            states[test_id] = probed(states.get(test_id, TestState()), now, newest)
            probes[test_id].append(now - start)
        now += schedule.tick_interval_s
    return probes


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_fielding_tests_every_five_minutes_dormant_ones_every_ten_hours_for_about_half_the_budget():
    tests = [f"test-{i:03}" for i in range(200)]
    active = set(tests[::10])  # 20 tests receiving sessions now
    probes = simulate(ProbeSchedule(), tests, active, days=2.05)

    assert all(probes[t] for t in tests), "every test is probed"
    for test_id in active:  # once the 200 first probes (10 a tick) are done
        assert max(gaps([t for t in probes[test_id] if t >= HOUR])) <= 300
    for test_id in set(tests) - active:
        # The 180 fell due together (probed together at first), 10 a tick, after the fielding ones.
        assert len(probes[test_id]) >= 4 and max(gaps(probes[test_id])) <= 10 * HOUR + 18 * 60

    second_day = sum(1 for times in probes.values() for t in times if DAY <= t < 2 * DAY)
    # Due one tick early (at 4 min) so as never to be late: 20 x 360 + 180 x 2.4 = 7,632 at most.
    assert 20 * 288 + 180 * 2 <= second_day <= 7_632


def test_settings_change_the_intervals():
    tests = [f"test-{i}" for i in range(10)]
    schedule = ProbeSchedule(active_interval_s=600, dormant_interval_s=2 * HOUR, tick_interval_s=30, batch=10)
    probes = simulate(schedule, tests, {"test-0"}, days=0.5)
    assert max(gaps(probes["test-0"])) <= 600 and len(probes["test-0"]) >= 12 * 6
    assert max(gaps(probes["test-5"])) <= 2 * HOUR and len(probes["test-5"]) <= 7


def test_a_dormant_test_that_receives_sessions_becomes_active():
    schedule = ProbeSchedule()
    now = 1_700_000_000.0
    state = probed(TestState(), now, now - 30 * DAY)
    assert due_at(state, now, schedule) > now + 9 * HOUR
    state = probed(state, now, now)  # the probe found new sessions
    assert due_at(state, now, schedule) <= now + 300
    assert state.arrivals == (now - 30 * DAY, now)
    # Quiet since: each probe finds nothing, and the interval grows with the silence.
    later = [due_at(state, now + h * HOUR, schedule) - now for h in (1, 4, 24)]
    assert later == sorted(later) and later[0] < later[-1]


def test_batch_busy_and_priority():
    schedule = ProbeSchedule(batch=2)
    now = 1_700_000_000.0
    states = {
        "dormant-overdue": TestState(last_probed=now - 11 * HOUR, last_activity=now - 30 * DAY),
        "active-due": TestState(last_probed=now - 600, last_activity=now - 1800),
        "active-not-due": TestState(last_probed=now - 60, last_activity=now - 1800),
    }
    tests = ["never-probed", *states]
    assert due_tests(tests, states, now, schedule) == ["never-probed", "active-due"]
    assert due_tests(tests, states, now, schedule, busy=frozenset({"never-probed"})) == [
        "active-due",
        "dormant-overdue",
    ]
    # The budget allows one probe: the most overdue; none: nothing is probed.
    assert due_tests(tests, states, now, schedule, busy=frozenset({"never-probed"}), allowance=1) == [
        "active-due"
    ]
    assert due_tests(tests, states, now, schedule, busy=frozenset({"never-probed"}), allowance=0) == []
    # Others have taken the whole budget for long: a test waiting three intervals (here 4.2: 1,200 s
    # on a 300 s interval) gets one probe anyway, and so does a test never probed (a greedy process
    # from the start must not hide a registered test for ever); one at a time, never-probed first.
    starved = {**states, "active-due": TestState(last_probed=now - 1200, last_activity=now - 1800)}
    busy = frozenset({"never-probed"})
    assert due_tests(tests, starved, now, schedule, busy=busy, allowance=0) == ["active-due"]
    assert due_tests(tests, starved, now, schedule, allowance=0) == ["never-probed"]
    assert due_tests(tests, states, now, schedule, allowance=0) == ["never-probed"]
    # Equally overdue: the test with more arrivals in the last day (fielding now) first.
    twins = {
        "quiet": TestState(now - 600, now - 1800, (now - 1800,)),
        "busy": TestState(now - 600, now - 1800, (now - 3600, now - 2400, now - 1800)),
    }
    assert due_tests(["quiet", "busy"], twins, now, schedule, allowance=1) == ["busy"]


def simulate_runs(
    schedule: ProbeSchedule,
    hours: float,
    outcome_at: Callable[[float], str] = lambda start: "failure",
    run_seconds: float = 300.0,
    manual_success_at: float | None = None,
) -> list[tuple[float, str]]:
    """The sensor's decisions for one active test (a probe always finds sessions not landed) whose
    runs take `run_seconds` and end as `outcome_at(start)` says; at `manual_success_at` a user's
    `ut-dagster sync` succeeds. Returns the start and outcome of each run the sensor requested."""
    start = now = 1_700_000_000.0
    state, history, runs = TestState(), [], []
    running: tuple[float, str] | None = None
    while now < start + hours * HOUR:
        if manual_success_at is not None and now - start >= manual_success_at:
            history.insert(0, RunOutcome("success", ended_at=now))
            manual_success_at = None
        if running and now >= running[0]:
            history.insert(0, RunOutcome(running[1], ended_at=now, error="WarehouseUnavailableError"))
            if running[1] == "canceled":
                state = run_cancelled(state, now)
            running = None
        streaks = {"t": failure_streak(history)}
        busy = frozenset({"t"} if running else ())
        if due_tests(["t"], {"t": state}, now, schedule, busy=busy, streaks=streaks) == ["t"]:
            state = probed(state, now, now - HOUR)
            outcome = outcome_at(now - start)
            runs.append((now - start, outcome))
            running = (now + run_seconds, outcome)
        now += schedule.tick_interval_s
    return runs


def test_a_test_that_always_fails_backs_off_to_daily_then_stops_being_requested():
    schedule = ProbeSchedule(dormant_interval_s=DAY)  # 14 failed runs at most, delays up to a day
    runs = simulate_runs(schedule, hours=48)
    starts = [t for t, _ in runs]
    # Was 54 runs in 48 h (one every hour, forever): now retried at once, then after delays doubling
    # from 2 minutes up to a day. 12 runs in the first 48 h, then one a day until the 14th, then none.
    assert len(runs) == 12
    assert gaps(starts) == sorted(gaps(starts))
    month = [t for t, _ in simulate_runs(schedule, hours=30 * 24)]
    assert len(month) == schedule.max_failed_runs == 14  # the last at 83 h; none in the 27 days after
    assert gaps(month)[-2:] == [DAY + 300] * 2  # daily (counted from the failed run's end)


def test_a_successful_run_resets_the_streak():
    schedule = ProbeSchedule(max_failed_runs=3)
    # Failing all along; on day 2 a user's manual sync succeeds.
    runs = simulate_runs(schedule, hours=72, manual_success_at=36 * HOUR)
    assert len([t for t, _ in runs if t < 36 * HOUR]) == 3  # stopped after 3 failed runs
    assert len([t for t, _ in runs if t >= 36 * HOUR]) == 3  # requested again: a new streak of 3


def test_a_cancelled_run_is_not_a_failure_nor_requested_again_at_once():
    schedule = ProbeSchedule(active_interval_s=HOUR)
    # Every run is cancelled by the user: the test is probed hourly, its shortest interval.
    runs = simulate_runs(schedule, hours=24, outcome_at=lambda t: "canceled", run_seconds=600)
    assert min(gaps([t for t, _ in runs])) >= HOUR  # never the next tick
    assert failure_streak([RunOutcome("canceled", 3.0), RunOutcome("failure", 2.0, "boom")]) == FailureStreak(
        1, 2.0, "boom"
    )


def test_the_failure_streak_counts_failed_runs_since_the_last_success():
    outcomes = [
        RunOutcome("failure", 50.0, "latest"),
        RunOutcome("canceled", 40.0),
        RunOutcome("failure", 30.0, "older"),
        RunOutcome("success", 20.0),
        RunOutcome("failure", 10.0),
    ]
    assert failure_streak(outcomes) == FailureStreak(failures=2, last_failed_at=50.0, last_error="latest")
    assert failure_streak(outcomes[3:]) == FailureStreak()
    schedule = ProbeSchedule(max_failed_runs=2)
    assert gave_up(failure_streak(outcomes), schedule) and not gave_up(failure_streak(outcomes[2:]), schedule)
    assert due_at(TestState(1.0, 1.0), 100.0, schedule, failure_streak(outcomes)) == float("inf")


def test_a_failed_run_is_retried_at_once_then_with_growing_delays():
    schedule = ProbeSchedule(tick_interval_s=60)
    now = 1_700_000_000.0
    state = probed(TestState(), now, now - 30 * DAY)
    delays = []
    for failures in range(1, 14):
        streak = FailureStreak(failures, last_failed_at=now + 10)
        delays.append(due_at(state, now, schedule, streak) - (now + 10))
    assert delays[:4] == [0, 120, 240, 480]
    assert max(delays) == schedule.dormant_interval_s  # up to daily
    # A probe after the last failure that started no run (the API was down): the usual interval.
    streak = FailureStreak(3, last_failed_at=now - 10)
    assert (
        due_at(state, now, schedule, streak) == now + schedule.dormant_interval_s - schedule.tick_interval_s
    )


def test_cursor_round_trip_drops_unregistered_tests_and_ignores_old_cursors():
    memory = SensorMemory(123.0, {"a": TestState(1.0, 2.0), "gone": TestState(1.0)})
    again = SensorMemory.decode(memory.encode(keep=["a"]))
    assert again.last_tick == 123.0 and again.tests == {"a": TestState(1.0, 2.0)}
    # Version 1 also kept failures, now read from the runs themselves.
    assert SensorMemory.decode('{"v":1,"t":5.0,"tests":{"a":[1.0,2.0,3,4.0]}}').tests == {
        "a": TestState(1.0, 2.0, (2.0,))
    }
    # Version 2 kept no arrival history: its newest activity starts one; the probes sent do not carry.
    v2 = SensorMemory.decode('{"v":2,"t":5.0,"tests":{"a":[1.0,2.0],"b":[1.0,null]}}')
    assert v2.tests == {"a": TestState(1.0, 2.0, (2.0,)), "b": TestState(1.0, None, ())}
    assert v2.last_probes == 0
    memory = SensorMemory(9.0, {"a": TestState(1.0, 3.0, (2.0, 3.0))}, last_probes=4)
    assert SensorMemory.decode(memory.encode(keep=["a"])) == memory
    assert SensorMemory.decode('{"next": 5}').tests == {}
    assert SensorMemory.decode("not json").tests == {}


def test_a_cursor_written_before_the_probe_vocabulary_still_decodes_and_encodes_the_same():
    # Production sensors keep cursors across deploys: the JSON is positional and must not change.
    stored = '{"v":3,"t":5.0,"p":2,"tests":{"a":[1.0,3.0,[2.0,3.0]],"b":[4.0,null,[]]}}'
    memory = SensorMemory.decode(stored)
    assert memory == SensorMemory(
        5.0, {"a": TestState(1.0, 3.0, (2.0, 3.0)), "b": TestState(4.0, None, ())}, last_probes=2
    )
    assert memory.tests["b"].last_probed == 4.0
    assert memory.encode(keep=["a", "b"]) == stored

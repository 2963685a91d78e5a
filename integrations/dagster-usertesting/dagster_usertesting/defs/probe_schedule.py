"""When the new-sessions sensor probes each registered test (asks UserTesting whether it has sessions
not landed): a pure schedule over simulated time.

Every probe costs one request of the credential's 10-per-minute budget (14,400 a day), shared with the
runs that do the actual syncing, so probes go where sessions arrive: a test's interval is a tenth of
the time since its last arrival, between `active_interval_s` (sessions arriving now) and
`dormant_interval_s` (nothing for `activity_window_s`), and a tick spends only the budget the syncs
leave idle, up to a ceiling (lib/probe_policy.py; docs/scale.md has what that costs at 200 tests).

A test falls due one tick before its interval is up, so ticks arriving on time probe it no later than
its interval. Tests never probed go first (just registered), then the most overdue relative to their
interval, then those with the most arrivals in the last day (fielding now).

A test whose sync runs keep failing backs off: after its first failed run it is probed (and synced)
again at once, a transient failure; after each further one the delay doubles from two ticks up to the
dormant interval (daily). After `max_failed_runs` failed runs in a row it is not probed nor synced
any more: it shows as failing in `ut-dagster status` and the `no_test_keeps_failing` asset check,
until a run of it succeeds (`ut-dagster sync TEST_ID`, or materializing it in the UI). The streak is
read from the runs the Dagster instance records (see runs.py), not from the sensor's cursor, so the
sensor, the status command and the asset check agree; a run the user cancelled is not a failure, and the
test is next probed a full interval after the cancellation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from dagster_usertesting.lib import probe_policy
from dagster_usertesting.lib.probe_policy import ProbePolicy

FAILURE, SUCCESS, CANCELED = "failure", "success", "canceled"


@dataclass(frozen=True)
class ProbeSchedule:
    active_interval_s: float = 300.0  # shortest probe interval: a test receiving sessions now
    dormant_interval_s: float = 10 * 3600.0  # longest: a dormant test
    activity_window_s: float = 7 * 86400.0  # no arrival for this long: dormant
    tick_interval_s: float = 60.0
    batch: int = 10  # tests probed per tick at most
    max_failed_runs: int = 14  # failed runs in a row after which a test is no longer synced
    budget_ceiling: float = 0.9  # probes never push the credential's recent use above this share

    @property
    def probes(self) -> ProbePolicy:
        return ProbePolicy(
            min_interval_s=self.active_interval_s,
            max_interval_s=self.dormant_interval_s,
            dormant_after_s=self.activity_window_s,
            ceiling=self.budget_ceiling,
            tick_interval_s=self.tick_interval_s,
            max_per_tick=self.batch,
        )

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("UT_SENSOR_BATCH must be at least 1.")
        if self.max_failed_runs < 1:
            raise ValueError("UT_TEST_MAX_FAILED_RUNS must be at least 1.")
        if min(self.active_interval_s, self.dormant_interval_s, self.tick_interval_s) < 0:
            raise ValueError("Sensor intervals cannot be negative.")
        if self.dormant_interval_s < self.active_interval_s:
            raise ValueError("UT_SENSOR_DORMANT_HOURS must not be shorter than UT_SENSOR_ACTIVE_MINUTES.")
        self.probes  # noqa: B018 - its checks name the bad setting (UT_PROBE_BUDGET_CEILING)


@dataclass(frozen=True)
class TestState:
    """What the sensor remembers of one test between ticks (epoch seconds)."""

    __test__ = False  # not a pytest class

    last_probed: float | None = None
    last_activity: float | None = None  # newest session seen, or when new sessions were noticed
    arrivals: tuple[float, ...] = field(default=())  # the latest arrival times (probe_policy.KEEP_ARRIVALS)


@dataclass(frozen=True)
class RunOutcome:
    """How one run of a test ended: `status` is FAILURE, SUCCESS or CANCELED."""

    status: str
    ended_at: float
    error: str | None = None


@dataclass(frozen=True)
class FailureStreak:
    """The test's failed runs since its last successful one (cancelled runs do not count)."""

    failures: int = 0
    last_failed_at: float | None = None
    last_error: str | None = None


def failure_streak(outcomes_newest_first: Iterable[RunOutcome]) -> FailureStreak:
    failed = []
    for outcome in outcomes_newest_first:
        if outcome.status == SUCCESS:
            break
        if outcome.status == FAILURE:
            failed.append(outcome)
    if not failed:
        return FailureStreak()
    return FailureStreak(len(failed), failed[0].ended_at, failed[0].error)


def gave_up(streak: FailureStreak, schedule: ProbeSchedule) -> bool:
    """Whether the test failed too often in a row to be synced again before a run of it succeeds."""
    return streak.failures >= schedule.max_failed_runs


def retry_delay(failures: int, schedule: ProbeSchedule) -> float:
    """How long after its `failures`-th failed run in a row a test is synced again."""
    if failures <= 1:
        return 0.0  # most failures are transient: try again at once
    return min(schedule.tick_interval_s * 2 ** (failures - 1), schedule.dormant_interval_s)


def held_until(streak: FailureStreak, schedule: ProbeSchedule) -> float:
    """Before when a failing test is neither probed nor synced (-inf: not held; inf: stopped)."""
    if streak.failures == 0 or streak.last_failed_at is None:
        return float("-inf")
    if gave_up(streak, schedule):
        return float("inf")
    return streak.last_failed_at + retry_delay(streak.failures, schedule)


def is_active(state: TestState, now: float, schedule: ProbeSchedule) -> bool:
    return state.last_activity is not None and now - state.last_activity <= schedule.activity_window_s


def due_at(
    state: TestState, now: float, schedule: ProbeSchedule, streak: FailureStreak = FailureStreak()
) -> float:
    failed_since_probe = (
        streak.failures > 0
        and streak.last_failed_at is not None
        and (state.last_probed is None or streak.last_failed_at >= state.last_probed)
    )
    if state.last_probed is None or failed_since_probe:
        usual = float("-inf")  # never probed, or a run failed since: due as soon as not held
    else:
        usual = probe_policy.due_at(state.last_probed, state.last_activity, now, schedule.probes)
    return max(usual, held_until(streak, schedule))


def due_tests(
    test_ids: Iterable[str],
    states: Mapping[str, TestState],
    now: float,
    schedule: ProbeSchedule,
    busy: frozenset[str] = frozenset(),
    streaks: Mapping[str, FailureStreak] | None = None,
    allowance: int | None = None,
) -> list[str]:
    """The tests to probe this tick, in order (at most `schedule.batch` and `allowance`, the probes the
    budget allows: probe_policy.probe_allowance); `busy` ones have a run going."""
    streaks = streaks or {}
    limit = schedule.batch if allowance is None else max(0, min(schedule.batch, allowance))
    due = []
    for test_id in test_ids:
        if test_id in busy:
            continue
        state = states.get(test_id, TestState())
        when = due_at(state, now, schedule, streaks.get(test_id, FailureStreak()))
        if when <= now:
            late = probe_policy.overdue(state.last_probed, state.last_activity, now, schedule.probes)
            fielding = probe_policy.arrivals_within(state.arrivals, now)
            due.append((state.last_probed is not None, -late, -fielding, test_id))
    ranked = sorted(due)
    if limit == 0 and schedule.batch > 0:
        # Another process on the credential may take the whole budget for hours (a greedy client, a
        # backfill elsewhere): a test kept waiting `starved_after` intervals, or never probed yet,
        # gets one probe anyway, so new sessions are never unseen for ever. The limiter still holds
        # the credential's limit.
        starved = [t for _, late, _, t in ranked if -late >= schedule.probes.starved_after]
        return starved[:1]
    return [test_id for *_, test_id in ranked[:limit]]


def probed(state: TestState, now: float, activity: float | None) -> TestState:
    newest = max((t for t in (state.last_activity, activity) if t is not None), default=None)
    arrivals = state.arrivals
    if activity is not None and (state.last_activity is None or activity > state.last_activity):
        arrivals = probe_policy.remember_arrival(arrivals, activity)
    return replace(state, last_probed=now, last_activity=newest, arrivals=arrivals)


def run_cancelled(state: TestState, at: float) -> TestState:
    """A user cancelled a run of the test: the next probe waits a full interval from then."""
    return replace(state, last_probed=max(state.last_probed or at, at))


# -- cursor -------------------------------------------------------------------------------------------
@dataclass
class SensorMemory:
    last_tick: float | None
    tests: dict[str, TestState]
    last_probes: int = 0  # probes the last tick sent: still in the limiter's window at the next tick

    def encode(self, keep: Iterable[str]) -> str:
        keep = set(keep)
        tests = {
            t: [_num(s.last_probed), _num(s.last_activity), [_num(a) for a in s.arrivals]]
            for t, s in sorted(self.tests.items())
            if t in keep
        }
        body = {"v": 3, "t": _num(self.last_tick), "p": self.last_probes, "tests": tests}
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str | None) -> SensorMemory:
        try:
            body = json.loads(cursor or "{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("v") not in (1, 2, 3):
            return cls(None, {})  # no cursor, or the old round-robin one: start afresh
        # Version 1 kept failures and a retry time too: they are now read from the runs. Versions 1
        # and 2 kept no arrival history: the newest activity is its first entry.
        tests = {}
        for test_id, v in (body.get("tests") or {}).items():
            if not isinstance(v, list) or len(v) not in (2, 3, 4):
                continue
            arrivals = v[2] if len(v) == 3 and isinstance(v[2], list) else [v[1]] if v[1] is not None else []
            tests[test_id] = TestState(v[0], v[1], tuple(float(a) for a in arrivals))
        probes = body.get("p") if isinstance(body.get("p"), int) else 0
        return cls(body.get("t"), tests, probes)


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

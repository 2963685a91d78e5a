"""When the new-sessions sensor looks at each registered test: a pure policy over simulated time.

Every check costs one request of the credential's 10-per-minute budget (14,400 a day), shared with the
runs that do the actual syncing, so checks go where sessions arrive. A test that received sessions within
the activity window is checked every `active_interval_s`, any other every `dormant_interval_s`
(docs/scale.md has what that costs at 200 tests).

A test falls due one tick before its interval is up, so ticks arriving on time check it no later than
its interval. Tests never checked go first (just registered), then active ones, then the longest
overdue. A failed sync run makes its test due again at once, then after a doubling delay while runs
keep failing (never later than the active interval).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class CheckPolicy:
    active_interval_s: float = 3600.0
    dormant_interval_s: float = 86400.0
    activity_window_s: float = 7 * 86400.0
    tick_interval_s: float = 60.0
    batch: int = 5  # tests checked per tick at most

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("UT_SENSOR_BATCH must be at least 1.")
        if min(self.active_interval_s, self.dormant_interval_s, self.tick_interval_s) < 0:
            raise ValueError("Sensor intervals cannot be negative.")


@dataclass(frozen=True)
class TestState:
    """What the sensor remembers of one test between ticks (epoch seconds)."""

    __test__ = False  # not a pytest class

    last_checked: float | None = None
    last_activity: float | None = None  # newest session seen, or when new sessions were noticed
    failures: int = 0  # sync runs failed in a row
    retry_at: float | None = None


def is_active(state: TestState, now: float, policy: CheckPolicy) -> bool:
    return state.last_activity is not None and now - state.last_activity <= policy.activity_window_s


def due_at(state: TestState, now: float, policy: CheckPolicy) -> float:
    if state.last_checked is None:
        return float("-inf")
    interval = policy.active_interval_s if is_active(state, now, policy) else policy.dormant_interval_s
    due = state.last_checked + interval - policy.tick_interval_s
    return due if state.retry_at is None else min(due, state.retry_at)


def due_tests(
    test_ids: Iterable[str],
    states: dict[str, TestState],
    now: float,
    policy: CheckPolicy,
    busy: frozenset[str] = frozenset(),
) -> list[str]:
    """The tests to check this tick, in order (at most `policy.batch`); `busy` ones have a run going."""
    due = []
    for test_id in test_ids:
        if test_id in busy:
            continue
        state = states.get(test_id, TestState())
        when = due_at(state, now, policy)
        if when <= now:
            rank = 0 if state.last_checked is None else 1 if is_active(state, now, policy) else 2
            due.append((rank, when, test_id))
    return [test_id for *_, test_id in sorted(due)[: policy.batch]]


def checked(state: TestState, now: float, activity: float | None) -> TestState:
    newest = max((t for t in (state.last_activity, activity) if t is not None), default=None)
    return replace(state, last_checked=now, last_activity=newest, retry_at=None)


def run_failed(state: TestState, now: float, policy: CheckPolicy) -> TestState:
    failures = state.failures + 1
    # The first retry is immediate (a transient failure); later ones back off so a broken
    # test or warehouse does not spend the budget on a run every tick.
    delay = (
        0.0 if failures == 1 else min(policy.tick_interval_s * 2 ** (failures - 1), policy.active_interval_s)
    )
    return replace(state, failures=failures, retry_at=now + delay)


def run_succeeded(state: TestState) -> TestState:
    return replace(state, failures=0, retry_at=None)


# -- cursor -------------------------------------------------------------------------------------------
@dataclass
class SensorMemory:
    last_tick: float | None
    tests: dict[str, TestState]

    def encode(self, keep: Iterable[str]) -> str:
        keep = set(keep)
        tests = {
            t: [_num(s.last_checked), _num(s.last_activity), s.failures, _num(s.retry_at)]
            for t, s in sorted(self.tests.items())
            if t in keep
        }
        return json.dumps({"v": 1, "t": _num(self.last_tick), "tests": tests}, separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str | None) -> SensorMemory:
        try:
            body = json.loads(cursor or "{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("v") != 1:
            return cls(None, {})  # no cursor, or the old round-robin one: start afresh
        tests = {
            t: TestState(v[0], v[1], int(v[2]), v[3])
            for t, v in (body.get("tests") or {}).items()
            if isinstance(v, list) and len(v) == 4
        }
        return cls(body.get("t"), tests)


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

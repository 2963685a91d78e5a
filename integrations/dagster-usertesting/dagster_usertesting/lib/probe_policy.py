"""When to probe each test, and how many probes a sensor tick may spend: pure functions of observations.

A probe is one listing request (the first page), taken from the credential's budget (10 requests a minute)
that the sync runs share. Two decisions, both made here and nowhere else:

- **Interval per test** (`probe_interval`): age-proportional polling. A test is probed again after
  `age_fraction` of the time since its last arrival (a session seen finishing, new sessions noticed,
  or its registration), bounded by `min_interval_s` (a test fielding now: sessions arrive every few
  minutes) and `max_interval_s` (dormant: no arrival for `dormant_after_s`). The interval shrinks to
  the minimum as soon as sessions arrive and grows, geometrically in the number of empty probes, when
  they stop. The sensor ranks due tests by how overdue they are (elapsed / interval), then by the
  arrivals of the last day, so tests fielding now go first when budget is short.
- **Allowance per tick** (`probe_allowance`): probes take only budget the syncs leave idle. They keep
  the requests of the last rate window (every process's, as the shared limiter's store counts them)
  at or under `ceiling` x the limit (not counting the sensor's own previous probes, which leave the
  window as the new ones enter), leave `sync_reserve` of the window to sync runs while any is in
  flight (so a backlog of sync work is not slowed by probes, and a window the syncs fill leaves
  nothing), and keep the day's requests (usage.py's count) at or under `ceiling` x the day's budget
  pro rata, so sustained use never passes the ceiling because of probes. Bounded by `max_per_tick`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

DAY_S = 86400.0
KEEP_ARRIVALS = 8  # arrival times remembered per test: enough for "how many in the last day"


@dataclass(frozen=True)
class ProbePolicy:
    min_interval_s: float = 300.0
    max_interval_s: float = 10 * 3600.0  # UT_SENSOR_DORMANT_HOURS: late arrivals wait < 10 h
    dormant_after_s: float = 7 * DAY_S
    age_fraction: float = 0.1
    ceiling: float = 0.9  # UT_PROBE_BUDGET_CEILING
    sync_reserve: float = 0.2  # share of a window left to sync runs while one is in flight
    tick_interval_s: float = 60.0
    max_per_tick: int = 10
    # A test waiting this many of its intervals gets one probe even when others spend the whole budget.
    starved_after: float = 3.0

    def __post_init__(self) -> None:
        if not 0 < self.ceiling <= 1:
            raise ValueError(f"UT_PROBE_BUDGET_CEILING must be in (0, 1]; got {self.ceiling:g}.")
        if not 0 <= self.sync_reserve <= 1:
            raise ValueError(f"The sync reserve must be in [0, 1]; got {self.sync_reserve:g}.")
        if self.min_interval_s < 0 or self.max_interval_s < self.min_interval_s:
            raise ValueError(
                f"Probe intervals must satisfy 0 <= shortest <= longest; got {self.min_interval_s:g} s "
                f"and {self.max_interval_s:g} s."
            )
        if self.age_fraction <= 0:
            raise ValueError(f"The age fraction must be positive; got {self.age_fraction:g}.")
        if self.max_per_tick < 1:
            raise ValueError("A tick must be allowed at least one probe (UT_SENSOR_BATCH >= 1).")


def probe_interval(last_arrival: float | None, now: float, policy: ProbePolicy) -> float:
    """Seconds between probes of a test whose newest known arrival is `last_arrival` (None: none)."""
    if last_arrival is None:
        return policy.max_interval_s
    age = max(0.0, now - last_arrival)
    if age > policy.dormant_after_s:
        return policy.max_interval_s
    return min(max(policy.age_fraction * age, policy.min_interval_s), policy.max_interval_s)


def due_at(last_probe: float | None, last_arrival: float | None, now: float, policy: ProbePolicy) -> float:
    """When the test is next due; one tick early, so ticks on time probe it within its interval."""
    if last_probe is None:
        return -math.inf
    return last_probe + probe_interval(last_arrival, now, policy) - policy.tick_interval_s


def overdue(last_probe: float | None, last_arrival: float | None, now: float, policy: ProbePolicy) -> float:
    """Elapsed time over the interval (inf: never probed): who goes first when budget is short.

    Counted from one tick later, as tests fall due one tick early: else a long interval's test, due
    early by a smaller share of it, would rank before a fielding test due at the same tick."""
    if last_probe is None:
        return math.inf
    return (now - last_probe + policy.tick_interval_s) / max(probe_interval(last_arrival, now, policy), 1.0)


def arrivals_within(arrivals: Iterable[float], now: float, span_s: float = DAY_S) -> int:
    return sum(1 for at in arrivals if now - at <= span_s)


def remember_arrival(arrivals: tuple[float, ...], at: float) -> tuple[float, ...]:
    """The newest KEEP_ARRIVALS distinct arrival times, oldest first."""
    return tuple(sorted(set(arrivals) | {at})[-KEEP_ARRIVALS:])


@dataclass(frozen=True)
class BudgetView:
    """What the shared store knows of the credential's recent use, read before a tick probes."""

    limit: int  # requests per window
    window_s: float
    used_in_window: int  # requests granted in the last window, by every process
    own_in_window: int = 0  # of those, this sensor's probes of its previous tick (they expire first)
    syncs_in_flight: int = 0  # sync runs queued or running
    used_today: int | None = None  # requests counted since 00:00 UTC (None: not known)
    day_elapsed_s: float = 0.0  # seconds since 00:00 UTC


def probe_allowance(view: BudgetView, policy: ProbePolicy) -> int:
    """How many probes this tick may send (0 .. max_per_tick)."""
    # A tick's share of a window: ticks closer together than the window get a part of it each.
    share = policy.ceiling * view.limit * min(1.0, policy.tick_interval_s / view.window_s)
    if view.syncs_in_flight > 0:
        share *= 1 - policy.sync_reserve
    # The previous tick's probes leave the window as this tick's go out (ticks are a window apart), so
    # only the others' use counts against the share; the limiter still holds every request to the limit.
    others = max(0, view.used_in_window - view.own_in_window)
    room = math.floor(share) - others
    if view.used_today is not None:
        # The day's budget so far at the ceiling, plus one window so the day's first minutes can probe.
        windows = (view.day_elapsed_s + view.window_s) / view.window_s
        room = min(room, math.floor(policy.ceiling * view.limit * windows) - view.used_today)
    return max(0, min(room, policy.max_per_tick))

"""The probe policy: intervals from arrivals, probes per tick from the budget the limiter shows idle."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster_usertesting.lib.probe_policy import (
    KEEP_ARRIVALS,
    BudgetView,
    ProbePolicy,
    arrivals_within,
    overdue,
    probe_allowance,
    probe_interval,
    remember_arrival,
)

NOW = 1_700_000_000.0
POLICY = ProbePolicy()
ages = st.floats(min_value=0, max_value=60 * 86400, allow_nan=False)


def test_a_test_fielding_now_is_probed_every_five_minutes_and_less_often_as_it_goes_quiet():
    assert probe_interval(NOW - 60, NOW, POLICY) == 300  # a session a minute ago
    assert probe_interval(NOW - 3600, NOW, POLICY) == 360  # quiet for an hour: every 6 min
    assert probe_interval(NOW - 86400, NOW, POLICY) == 8640  # quiet for a day: every 2.4 h
    assert probe_interval(NOW - 8 * 86400, NOW, POLICY) == 10 * 3600  # dormant
    assert probe_interval(None, NOW, POLICY) == 10 * 3600  # never a session


@given(age=ages)
def test_intervals_stay_within_their_bounds(age):
    assert POLICY.min_interval_s <= probe_interval(NOW - age, NOW, POLICY) <= POLICY.max_interval_s


@given(age=ages, newer_by=ages)
def test_an_arrival_never_lengthens_the_interval(age, newer_by):
    # Sessions arriving shrink it; silence grows it.
    newer = NOW - max(0.0, age - newer_by)
    assert probe_interval(newer, NOW, POLICY) <= probe_interval(NOW - age, NOW, POLICY)


def test_arrivals_are_remembered_newest_last_and_counted_per_day():
    arrivals: tuple[float, ...] = ()
    for minute in range(20):
        arrivals = remember_arrival(arrivals, NOW - 3600 * minute)
    assert len(arrivals) == KEEP_ARRIVALS and arrivals[-1] == NOW
    assert remember_arrival(arrivals, NOW) == arrivals  # the same arrival seen twice
    assert arrivals_within(arrivals, NOW) == KEEP_ARRIVALS
    assert arrivals_within((NOW - 2 * 86400, NOW - 60), NOW) == 1


def test_the_most_overdue_relative_to_its_interval_goes_first():
    fielding = overdue(NOW - 600, NOW - 600, NOW, POLICY)  # 10 min since a 5-min probe
    dormant = overdue(NOW - 11 * 3600, None, NOW, POLICY)  # 11 h since a 10-h probe
    assert fielding > dormant > 1
    assert overdue(None, None, NOW, POLICY) == math.inf  # never probed: first


def view(used: int = 0, own: int = 0, syncs: int = 0, today: int | None = None, elapsed: float = 0.0):
    return BudgetView(10, 60.0, used, own, syncs, today, elapsed)


def test_probes_take_the_idle_budget_up_to_the_ceiling():
    assert probe_allowance(view(), POLICY) == 9  # 90% of 10
    assert probe_allowance(view(used=4), POLICY) == 5
    assert probe_allowance(view(used=9), POLICY) == 0  # at the ceiling: none
    assert probe_allowance(view(used=10), POLICY) == 0
    # The sensor's own probes of the last tick leave the window as the new ones go out.
    assert probe_allowance(view(used=9, own=9), POLICY) == 9
    assert probe_allowance(view(used=9, own=5), POLICY) == 5
    assert probe_allowance(view(), ProbePolicy(ceiling=0.7)) == 7
    assert probe_allowance(view(), ProbePolicy(max_per_tick=3)) == 3


def test_probes_give_way_to_sync_runs_in_flight():
    assert probe_allowance(view(syncs=1), POLICY) == 7  # 20% of the share left to the sync
    assert probe_allowance(view(used=7, syncs=1), POLICY) == 0  # a sync using the window: none
    assert probe_allowance(view(syncs=1), ProbePolicy(sync_reserve=1.0)) == 0


def test_probes_never_push_the_day_over_the_ceiling():
    half_day = 43200.0
    pro_rata = 0.9 * 10 * (half_day + 60) / 60  # 6,489 requests by noon at 90%
    assert probe_allowance(view(today=int(pro_rata), elapsed=half_day), POLICY) == 0
    assert probe_allowance(view(today=int(pro_rata) - 3, elapsed=half_day), POLICY) == 3
    assert probe_allowance(view(today=0, elapsed=0.0), POLICY) == 9  # the day's first minute


budgets = st.builds(
    BudgetView,
    limit=st.integers(1, 100),
    window_s=st.floats(1, 3600),
    used_in_window=st.integers(0, 100),
    own_in_window=st.integers(0, 100),
    syncs_in_flight=st.integers(0, 5),
    used_today=st.none() | st.integers(0, 200_000),
    day_elapsed_s=st.floats(0, 86400),
)
policies = st.builds(
    ProbePolicy,
    ceiling=st.floats(0.05, 1.0),
    sync_reserve=st.floats(0, 1),
    tick_interval_s=st.floats(1, 600),
    max_per_tick=st.integers(1, 50),
)


@given(budget=budgets, policy=policies)
def test_the_allowance_never_takes_others_over_the_ceiling(budget, policy):
    allowed = probe_allowance(budget, policy)
    assert 0 <= allowed <= policy.max_per_tick
    others = max(0, budget.used_in_window - budget.own_in_window)
    if allowed:  # (others alone may be over it: then none)
        assert others + allowed <= policy.ceiling * budget.limit + 1e-9
        if budget.used_today is not None:
            windows = (budget.day_elapsed_s + budget.window_s) / budget.window_s
            assert budget.used_today + allowed <= policy.ceiling * budget.limit * windows + 1e-9


@given(budget=budgets, policy=policies, more=st.integers(1, 50))
def test_more_use_or_a_sync_in_flight_never_allows_more_probes(budget, policy, more):
    allowed = probe_allowance(budget, policy)
    busier = BudgetView(**{**budget.__dict__, "used_in_window": budget.used_in_window + more})
    assert probe_allowance(busier, policy) <= allowed
    syncing = BudgetView(**{**budget.__dict__, "syncs_in_flight": budget.syncs_in_flight + 1})
    assert probe_allowance(syncing, policy) <= allowed


@pytest.mark.parametrize(
    "options",
    [{"ceiling": 0}, {"ceiling": 1.5}, {"sync_reserve": -0.1}, {"min_interval_s": 600, "max_interval_s": 60}],
)
def test_unusable_policies_are_refused(options):
    with pytest.raises(ValueError):
        ProbePolicy(**options)

"""When the research marts rebuild: after syncs change their sources, at most once per interval.

Every sync that lands something updates the raw tables; rebuilding the marts after each one cost
~800 `dbt build`s a day at 200 tests / 2,000 sessions a day (docs/scale.md), each paying dbt's
start-up. With `UT_MARTS_MIN_INTERVAL_MINUTES` = N the marts rebuild when something upstream
changed since their last build and an N-minute tick (cron, from midnight UTC) passed since then,
and nothing upstream is still running: the first change after a quiet spell rebuilds at the next
sensor tick, a stream of changes at most once per tick. The marts are then at most N minutes (plus
a build) behind the raw tables, with at most 24 * 60 / N builds a day. 0 rebuilds after every
change, as before.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import AutomationCondition, FreshnessPolicy

from ut_dagster.environment import interval_cron

# Every sync run updates the raw tables, changed or not, and the nightly schedule syncs every test:
# marts a day (and an hour's slack) old mean nothing keeps them current (automation off, a sync or
# dbt failing day after day). A shorter window would fail on quiet days when nothing is wrong.
MARTS_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=25))

# Upstream tables never materialized (session_videos is optional) do not hold the marts back:
# dbt reads an absent raw table as empty (macro source_or_empty).
EAGER_ALLOW_MISSING = (
    AutomationCondition.eager()
    .without(~AutomationCondition.any_deps_missing())
    .with_label("eager_allow_missing")
)


def marts_automation_condition(min_interval_minutes: int) -> AutomationCondition:
    """The marts' condition: eager after every change (0), or at most once per interval."""
    if min_interval_minutes == 0:
        return EAGER_ALLOW_MISSING
    handled = AutomationCondition.newly_requested() | AutomationCondition.newly_updated()
    changed = (
        AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()
    ).since_last_handled()
    # No reset at the sensor's first evaluation: a tick after the last build, ever, makes it due.
    due = AutomationCondition.cron_tick_passed(interval_cron(min_interval_minutes), "UTC").since(handled)
    return (
        changed & due & ~AutomationCondition.any_deps_in_progress() & ~AutomationCondition.in_progress()
    ).with_label(f"changed_upstream_at_most_every_{min_interval_minutes}_min")

"""The new-sessions sensor: starts a test's sync when UserTesting has sessions we have not landed.

Per tick it probes a few due tests (see probe_schedule.py), each with one listing request (the first
page) however many sessions the test has, and compares the answer with what is landed. A run it
requests starts its listing from that page rather than asking for it again (lib/sync/listing_head.py). How often a test is
probed follows its arrivals, and how many probes a tick sends follows the budget the shared limiter
shows idle (lib/probe_policy.py): probes never push recent use over UT_PROBE_BUDGET_CEILING and give
way to sync runs in flight. Guarantees:
- one failing test (revoked, deleted, refused) is logged in one line and skipped; the others are probed;
- a tick ends within `UT_SENSOR_TICK_SECONDS`: no request waits for rate budget past that, and tests
  left unprobed stay due for the next tick;
- no run is requested for a test whose sync is queued or running; after a failed sync run the test is
  probed again at once and, if UserTesting still serves it, synced again; while runs keep failing,
  after delays doubling up to a day, and after UT_TEST_MAX_FAILED_RUNS failed runs in a row not at all
  until a run of it succeeds (probe_schedule.py). A run the user cancelled is not a failure. The run key
  names the test's latest run, so it changes once a run happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from dagster_usertesting.defs.discovery import discover_tests
from dagster_usertesting.defs.jobs import SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME
from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.probe_schedule import (
    ProbeSchedule,
    SensorMemory,
    TestState,
    due_tests,
    gave_up,
    probed,
    run_cancelled,
)
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.run_tags import LISTING_HEAD_TAG, REASON_TAG
from dagster_usertesting.defs.runs import IN_FLIGHT, PARTITION_TAG, failure_streak_of
from dagster_usertesting.defs.sync_need import sync_need
from dagster_usertesting.defs.titles import known_titles, title_tags
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.probe_policy import BudgetView, probe_allowance
from dagster_usertesting.lib.sync.listing_head import land_head
from dagster_usertesting.lib.usertesting_api.errors import BudgetUnavailableError, UserTestingError
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.settings import SensorSettings

SYNC_JOBS = (SYNC_JOB_NAME, SYNC_WITH_VIDEOS_JOB_NAME)


def probe_schedule(settings: SensorSettings) -> ProbeSchedule:
    return ProbeSchedule(
        active_interval_s=settings.active_minutes * 60,
        dormant_interval_s=settings.dormant_hours * 3600,
        activity_window_s=settings.activity_days * 86400,
        tick_interval_s=settings.interval_seconds,
        batch=settings.batch,
        max_failed_runs=settings.max_failed_runs,
        budget_ceiling=settings.probe_budget_ceiling,
    )


def build_new_sessions_sensor(settings: SensorSettings | None = None) -> SensorDefinition:
    settings = settings or SensorSettings()
    schedule = probe_schedule(settings)

    @sensor(
        name="usertesting_new_sessions",
        job_name=SYNC_JOB_NAME,
        minimum_interval_seconds=settings.interval_seconds,
        # Stopped unless UT_SENSOR_RUNNING: a deployment opts in to spending budget on probes.
        default_status=DefaultSensorStatus.RUNNING if settings.running else DefaultSensorStatus.STOPPED,
        description="Starts a test's sync when UserTesting lists sessions not landed yet; checks tests with "
        "sessions arriving every few minutes, the others less often the longer they stay quiet, with the budget "
        "the syncs leave idle (UT_SENSOR_*, UT_PROBE_BUDGET_CEILING settings). "
        + (
            "On: UT_SENSOR_RUNNING starts it on deploy."
            if settings.running
            else "Off by default: turn on this sensor or the usertesting_scheduled_sync schedule (one is "
            "enough), or registered tests are synced only by hand (`ut-dagster sync`, Materialize). "
            "UT_SENSOR_RUNNING=true starts it on deploy."
        ),
    )
    def usertesting_new_sessions(
        context: SensorEvaluationContext,
        usertesting: UserTestingResource,
        object_store: ObjectStoreResource,
        sync_settings: SyncPolicyResource,
    ) -> SensorResult:
        return probe_tests(context, usertesting, object_store, schedule, settings.tick_seconds, sync_settings)

    return usertesting_new_sessions


def probe_tests(
    context: SensorEvaluationContext,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    schedule: ProbeSchedule,
    tick_seconds: float,
    sync_settings: SyncPolicyResource | None = None,
) -> SensorResult:
    deadline = time.monotonic() + tick_seconds
    sync_settings = sync_settings or SyncPolicyResource()
    now = time.time()
    instance = context.instance
    tests = sorted(instance.get_dynamic_partitions(test_partitions.name))
    memory = SensorMemory.decode(context.cursor)
    if not tests:
        return SensorResult(skip_reason="No tests registered yet: run `ut-dagster sync TEST_ID`.")

    busy = _partitions_of(instance, RunsFilter(statuses=IN_FLIGHT))
    if memory.last_tick is not None:
        for test_id, cancelled_at in _cancellations(instance, since=memory.last_tick).items():
            state = memory.tests.get(test_id, TestState())
            memory.tests[test_id] = run_cancelled(state, cancelled_at)
    # From the run history, as `ut-dagster status` and the asset check read it.
    streaks = {t: failure_streak_of(instance, t, schedule.max_failed_runs) for t in tests if t not in busy}
    stopped = sorted(t for t, streak in streaks.items() if gave_up(streak, schedule))

    try:
        view = budget_view(usertesting, memory, now, syncs_in_flight=len(busy))
    except UserTestingError as exc:  # the shared store is down: nothing could be sent anyway
        context.log.warning(f"Rate-limit store unreadable, no checks this tick: {_one_line(exc)}")
        return SensorResult(
            skip_reason=f"Rate-limit store unreadable: {_one_line(exc)}", cursor=context.cursor
        )
    allowance = probe_allowance(view, schedule.probes)
    due = due_tests(
        tests, memory.tests, now, schedule, busy=frozenset(busy), streaks=streaks, allowance=allowance
    )
    landing = Landing(object_store.store())
    titles = known_titles(landing.store)
    requests, failing, left, sent = [], 0, 0, 0
    for position, test_id in enumerate(due):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            left = len(due) - position
            break
        try:
            client = usertesting.get_client(max_budget_wait=remaining)
            sent += 1  # counted as spent even if it fails: the limiter may have granted it
            need = sync_need(
                landing,
                client,
                TestId(test_id),
                sync_settings.retry_policy(),
                sync_settings.deletion_policy(),
                clips=sync_settings.clips,
            )
        except BudgetUnavailableError:
            left = len(due) - position
            break
        except (UserTestingError, ValueError) as exc:
            failing += 1
            context.log.warning(f"Test {test_id} skipped this tick: {_one_line(exc)}")
            state = memory.tests.get(test_id, TestState())
            memory.tests[test_id] = probed(state, now, None)
            continue
        state = memory.tests.get(test_id, TestState())
        failures = streaks[test_id].failures
        # After a failed run the warehouse may lag what landed, so sync again even if nothing is new.
        reason = need.reason or (f"its last sync run failed ({failures}x)" if failures else None)
        activity = now if need.reason else need.newest_finish
        memory.tests[test_id] = probed(state, now, activity)
        if reason:
            context.log.info(f"Test {test_id}: {reason}; requesting a sync.")
            tags = {REASON_TAG: reason[:200], **title_tags(titles, test_id)}
            if need.head is not None:
                tags[LISTING_HEAD_TAG] = land_head(landing, TestId(test_id), need.head)
            requests.append(
                RunRequest(
                    partition_key=test_id,
                    run_key=f"{test_id}:after:{_latest_run_id(instance, test_id) or 'none'}",
                    tags=tags,
                )
            )
    if left:
        context.log.info(f"{left} due tests left for the next tick (tick time or rate budget used up).")
    memory.last_tick, memory.last_probes = now, sent
    cursor = memory.encode(tests)
    if requests:
        return SensorResult(run_requests=requests, cursor=cursor)
    summary = f"Checked {len(due) - left} of {len(tests)} tests"
    summary += (
        f" (budget: {view.used_in_window} of {view.limit} requests used in the last window"
        f"{f', {len(busy)} syncs in flight' if busy else ''}; {allowance} checks allowed)"
    )
    summary += f" ({failing} failing)" if failing else ""
    summary += f"; {len(busy)} syncing" if busy else ""
    summary += ": nothing new."
    if stopped:
        shown = ", ".join(stopped[:5]) + (", ..." if len(stopped) > 5 else "")
        summary += (
            f" {len(stopped)} not synced after {schedule.max_failed_runs} failed runs in a row ({shown}): "
            "a successful `ut-dagster sync TEST_ID` resumes one."
        )
    return SensorResult(skip_reason=summary, cursor=cursor)


def budget_view(
    usertesting: UserTestingResource, memory: SensorMemory, now: float, syncs_in_flight: int
) -> BudgetView:
    """What the shared store says of the credential's recent use; sends nothing."""
    window = usertesting.rate_window_seconds
    # The last tick's probes are still in the limiter's window (it adds a small margin) if it was
    # less than a window ago; they leave it as this tick's go out.
    recent_tick = memory.last_tick is not None and now - memory.last_tick < window * (1 + 1 / 60) + 0.5
    return BudgetView(
        limit=usertesting.requests_per_minute,
        window_s=window,
        used_in_window=usertesting.requests_in_window(),
        own_in_window=memory.last_probes if recent_tick else 0,
        syncs_in_flight=syncs_in_flight,
        used_today=usertesting.requests_today(),
        day_elapsed_s=now % 86400,
    )


def _partitions_of(instance: DagsterInstance, filters: RunsFilter) -> set[str]:
    records = instance.get_run_records(filters)
    return {
        r.dagster_run.tags[PARTITION_TAG]
        for r in records
        if r.dagster_run.job_name in SYNC_JOBS and PARTITION_TAG in r.dagster_run.tags
    }


def _cancellations(instance: DagsterInstance, since: float) -> dict[str, float]:
    """Per test, when its latest run cancelled since `since` ended."""
    filters = RunsFilter(
        statuses=[DagsterRunStatus.CANCELED], updated_after=datetime.fromtimestamp(since, UTC)
    )
    cancelled: dict[str, float] = {}
    for record in instance.get_run_records(filters):
        test_id = record.dagster_run.tags.get(PARTITION_TAG)
        if test_id is not None:
            ended = record.end_time or record.update_timestamp.timestamp()
            cancelled[test_id] = max(ended, cancelled.get(test_id, ended))
    return cancelled


def _latest_run_id(instance: DagsterInstance, test_id: str) -> str | None:
    records = instance.get_run_records(RunsFilter(tags={PARTITION_TAG: test_id}), limit=1)
    return records[0].dagster_run.run_id if records else None


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def build_discovery_sensor(
    settings: SensorSettings | None = None, clock: Callable[[], float] = time.time
) -> SensorDefinition:
    settings = settings or SensorSettings()

    @sensor(
        name="usertesting_discover_tests",
        minimum_interval_seconds=settings.interval_seconds,
        default_status=DefaultSensorStatus.STOPPED,
        description="Registers the tests of the credential's workspaces that the Results API serves "
        "(UT_DISCOVER_* settings). Off by default: turn it on to register new tests without naming "
        "them; syncing them needs usertesting_new_sessions or usertesting_scheduled_sync on too.",
    )
    def usertesting_discover_tests(
        context: SensorEvaluationContext, usertesting: UserTestingResource
    ) -> SensorResult:
        return discover_tests(context, usertesting, settings, clock)

    return usertesting_discover_tests

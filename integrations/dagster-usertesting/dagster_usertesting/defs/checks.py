"""Asset checks of the raw layer that are not part of an asset's own materialization.

Checks computed while an asset materializes (row counts, parse failures) are `check_specs` of the
asset itself, beside it in `assets/`.
"""

import hashlib
import json
import warnings
from datetime import UTC, datetime

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetObservation,
    MetadataValue,
    PreviewWarning,
    ResourceParam,
    asset_check,
)

from dagster_usertesting.defs.freshness import FreshnessLimits, TestObservation, judge, observe
from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.registered_tests import registered_tests_table
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.runs import failure_streak_of
from dagster_usertesting.defs.titles import (
    TITLE_METADATA,
    UNKNOWN_TITLE,
    known_titles,
    named_test,
    title_of,
)
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.schema import RAW_SESSIONS, SCHEMA, SESSION_VIDEOS, SESSIONS, TESTS
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager
from dagster_usertesting.lib.workspace_tests import landed_product_types, landed_titles

SESSIONS_KEY = AssetKey([SCHEMA, SESSIONS.name])
TESTS_KEY = AssetKey([SCHEMA, TESTS.name])
RAW_SESSIONS_KEY = AssetKey([SCHEMA, RAW_SESSIONS.name])
SESSION_VIDEOS_KEY = AssetKey([SCHEMA, SESSION_VIDEOS.name])


FRESH_IN_WAREHOUSE = "fresh_in_warehouse"
FRESHNESS_RULE = (
    "its listing was synced within UT_FRESHNESS_HOURS (default 26) and its newest listed session is in "
    "the warehouse's sessions table within UT_FRESHNESS_LAG_MINUTES (default 120) of being listed"
)


def _limits(sync_settings: SyncPolicyResource) -> FreshnessLimits:
    return FreshnessLimits(sync_settings.freshness_hours, sync_settings.freshness_lag_minutes)


def _freshness_result(
    seen: TestObservation, title: str | None, now: datetime, limits: FreshnessLimits
) -> AssetCheckEvaluation:
    verdict = judge(seen, now, limits)
    return AssetCheckEvaluation(
        asset_key=RAW_SESSIONS_KEY,
        check_name=FRESH_IN_WAREHOUSE,
        passed=verdict.fresh,
        severity=AssetCheckSeverity.WARN,
        partition=seen.test_id,
        description=f"{named_test(seen.test_id, title)}: {verdict.reason or 'fresh'}",
        metadata={
            TITLE_METADATA: title or UNKNOWN_TITLE,
            "test_id": seen.test_id,
            "status": verdict.status,
            "last_sync": seen.last_sync.isoformat() if seen.last_sync else "",
            "lag_minutes": round(verdict.lag.total_seconds() / 60, 1) if verdict.lag else None,
            "sessions_listed": seen.listed,
            "sessions_in_warehouse": seen.held,
            "newest_listed_session": seen.newest_session or "",
            "newest_listed_session_in_warehouse": seen.newest_held,
            "max_age_hours": limits.max_age_hours,
            "lag_limit_minutes": limits.lag_minutes,
        },
    )


def _fresh_in_warehouse(
    context: AssetCheckExecutionContext,
    sync_settings: SyncPolicyResource,
    object_store: ObjectStoreResource,
    io_manager: ResourceParam[WarehouseIOManager],
) -> AssetCheckResult:
    test_id = context.op_execution_context.partition_key
    [seen] = observe(context.instance, io_manager.client(), [test_id]).values()
    evaluation = _freshness_result(
        seen, title_of(object_store, test_id), datetime.now(UTC), _limits(sync_settings)
    )
    return AssetCheckResult(
        passed=evaluation.passed,
        severity=evaluation.severity,
        description=evaluation.description,
        metadata=evaluation.metadata,
    )


with warnings.catch_warnings():
    # Dagster marks partitioned checks "preview"; one status per test is what users need.
    warnings.filterwarnings("ignore", category=PreviewWarning)
    fresh_in_warehouse = asset_check(
        asset=RAW_SESSIONS_KEY,
        name=FRESH_IN_WAREHOUSE,
        partitions_def=test_partitions,
        # It reads the sessions table: in a sync run, it runs after the table is written.
        additional_deps=[SESSIONS_KEY],
        description=f"This test is fresh: {FRESHNESS_RULE}. Evaluated at the end of each sync of the test "
        "(or by executing the check for its partition); every_test_synced_recently judges every "
        "registered test hourly, by title.",
    )(_fresh_in_warehouse)


# Dagster's built-in freshness checks look at an asset's latest materialization, which for a
# partitioned asset says nothing about the other tests; this one looks at each test's partition.
@asset_check(
    asset=RAW_SESSIONS_KEY,
    name="every_test_synced_recently",
    description=f"Every registered test is fresh: {FRESHNESS_RULE}. Stale tests are named by title; each "
    f"test's own verdict is its partition of {FRESH_IN_WAREHOUSE}.",
)
def every_test_synced_recently(
    context: AssetCheckExecutionContext,
    sync_settings: SyncPolicyResource,
    object_store: ObjectStoreResource,
    io_manager: ResourceParam[WarehouseIOManager],
) -> AssetCheckResult:
    now, limits = datetime.now(UTC), _limits(sync_settings)
    titles = known_titles(object_store)
    tests = sorted(context.instance.get_dynamic_partitions(test_partitions.name))
    seen = observe(context.instance, io_manager.client(), tests)
    evaluations = [_freshness_result(seen[t], titles.get(t.lower()), now, limits) for t in tests]
    # Each test's own verdict is recorded by the sync runs of that test (fresh_in_warehouse). Recording
    # it here for every partition is not possible with Dagster's public API: an evaluation logged
    # outside the test's own step targets no materialization, and the UI then shows the partition
    # as never checked rather than failed.
    context.op_execution_context.log_event(
        _tests_at_a_glance(context, sync_settings, object_store, io_manager)
    )
    stale = [e for e in evaluations if not e.passed]
    named = [f"{named_test(e.partition or '', titles.get(e.partition or ''))}: {_reason(e)}" for e in stale]
    return AssetCheckResult(
        passed=not stale,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{len(stale)} of {len(tests)} tests are not fresh: " + "; ".join(named[:20])
            if stale
            else f"All {len(tests)} registered tests are fresh."
        ),
        metadata={
            "tests": len(tests),
            "stale_tests": {e.partition: _reason(e) for e in stale},
            "stale": MetadataValue.md(_stale_markdown(stale, titles)) if stale else MetadataValue.md("None."),
            "max_age_hours": limits.max_age_hours,
            "lag_limit_minutes": limits.lag_minutes,
        },
    )


def _tests_at_a_glance(
    context: AssetCheckExecutionContext,
    sync_settings: SyncPolicyResource,
    object_store: ObjectStoreResource,
    io_manager: ResourceParam[WarehouseIOManager],
) -> AssetObservation:
    """The registered tests table of usertesting/tests, as of now: the test list is refreshed daily,
    but a test's last sync, lag and status change every hour."""
    store = object_store.store()
    titles, kinds = landed_titles(store), landed_product_types(store)
    listed = {t: {"title": titles.get(t), "product_type": kinds.get(t)} for t in {*titles, *kinds}}
    table = registered_tests_table(
        context.instance,
        io_manager.client(),
        listed,
        _limits(sync_settings),
        sync_settings.max_failed_runs,
        datetime.now(UTC),
    )
    return AssetObservation(asset_key=TESTS_KEY, metadata={"registered_tests": table})


def _reason(evaluation: AssetCheckEvaluation) -> str:
    return (evaluation.description or "").split(": ", 1)[-1]


def _stale_markdown(stale: list[AssetCheckEvaluation], titles: dict[str, str]) -> str:
    lines = ["| Test | ID | Why |", "| --- | --- | --- |"]
    for e in stale:
        title = (titles.get(e.partition or "") or UNKNOWN_TITLE).replace("|", "\\|")
        lines.append(f"| {title} | `{e.partition}` | {_reason(e)} |")
    return "\n".join(lines)


@asset_check(
    asset=RAW_SESSIONS_KEY,
    name="no_test_keeps_failing",
    description="No registered test's sync runs failed UT_TEST_MAX_FAILED_RUNS times in a row (default 14); "
    "such a test is no longer synced until a run of it succeeds (`ut-dagster sync TEST_ID`, or "
    "materializing its partition). Cancelled runs do not count.",
)
def no_test_keeps_failing(
    context: AssetCheckExecutionContext, sync_settings: SyncPolicyResource
) -> AssetCheckResult:
    limit = sync_settings.max_failed_runs
    stopped: dict[str, str] = {}
    retrying: dict[str, str] = {}
    for test_id in sorted(context.instance.get_dynamic_partitions(test_partitions.name)):
        streak = failure_streak_of(context.instance, test_id, limit, with_error=True)
        if streak.failures:
            entry = f"{streak.failures} failed runs in a row; last error: {streak.last_error or 'unknown'}"
            (stopped if streak.failures >= limit else retrying)[test_id] = entry
    return AssetCheckResult(
        passed=not stopped,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"{len(stopped)} tests are no longer synced after {limit} failed runs in a row: a successful "
            "`ut-dagster sync TEST_ID` (or materializing its partition) resumes one."
            if stopped
            else "No test is stopped."
        ),
        metadata={"stopped_tests": stopped, "retrying_tests": retrying, "max_failed_runs": limit},
    )


@asset_check(
    asset=SESSION_VIDEOS_KEY,
    name="archived_videos_match_checksums",
    description="Re-reads every archived video and compares its SHA-256 with the recorded one.",
)
def archived_videos_match_checksums(object_store: ObjectStoreResource) -> AssetCheckResult:
    store = object_store.store()
    checked, mismatched = 0, []
    for key in store.list_keys("videos/"):
        if not key.endswith(".json"):
            continue
        record = json.loads(store.get_bytes(key) or b"{}")
        video = key.removesuffix(".json") + ".mp4"
        digest = hashlib.sha256()
        if not store.exists(video):
            mismatched.append(f"{video} (missing)")
            continue
        for chunk in store.iter_bytes(video):
            digest.update(chunk)
        checked += 1
        if digest.hexdigest() != record.get("sha256"):
            mismatched.append(video)
    return AssetCheckResult(
        passed=not mismatched, metadata={"videos_checked": checked, "mismatched": mismatched[:50]}
    )

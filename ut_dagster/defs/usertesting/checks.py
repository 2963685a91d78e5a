"""Asset checks of the raw layer that are not part of an asset's own materialization.

Checks computed while an asset materializes (row counts, parse failures) are `check_specs` of the
asset itself, beside it in `assets/`.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetRecordsFilter,
    asset_check,
)

from ut_dagster.defs.usertesting.assets import raw_sessions, session_videos
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.defs.usertesting.resources import SyncSettings
from ut_dagster.defs.usertesting.runs import failure_streak_of
from ut_dagster.lib.object_store import ObjectStoreResource


# Dagster's built-in freshness checks look at an asset's latest materialization, which for a
# partitioned asset says nothing about the other tests; this one looks at each test's partition.
@asset_check(
    asset=raw_sessions,
    name="every_test_synced_recently",
    description="Every registered test's listing was synced within UT_FRESHNESS_HOURS (default 26).",
)
def every_test_synced_recently(
    context: AssetCheckExecutionContext, sync_settings: SyncSettings
) -> AssetCheckResult:
    now = datetime.now(UTC)
    stale: dict[str, str] = {}
    tests = sorted(context.instance.get_dynamic_partitions(test_partitions.name))
    for test_id in tests:
        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=raw_sessions.key, asset_partitions=[test_id]), limit=1
        ).records
        if not records:
            stale[test_id] = "never synced"
            continue
        age = now - datetime.fromtimestamp(records[0].timestamp, UTC)
        if age > timedelta(hours=sync_settings.freshness_hours):
            stale[test_id] = f"last synced {age.total_seconds() / 3600:.1f} h ago"
    return AssetCheckResult(
        passed=not stale,
        severity=AssetCheckSeverity.WARN,
        metadata={"tests": len(tests), "stale_tests": stale, "max_age_hours": sync_settings.freshness_hours},
    )


@asset_check(
    asset=raw_sessions,
    name="no_test_keeps_failing",
    description="No registered test's sync runs failed UT_TEST_MAX_FAILED_RUNS times in a row (default 14); "
    "such a test is no longer synced until a run of it succeeds (`ut-dagster sync TEST_ID`, or "
    "materializing its partition). Cancelled runs do not count.",
)
def no_test_keeps_failing(
    context: AssetCheckExecutionContext, sync_settings: SyncSettings
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
    asset=session_videos,
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

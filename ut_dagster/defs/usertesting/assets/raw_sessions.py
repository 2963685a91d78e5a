"""`usertesting/raw_sessions`: the session listing of a test, paged and landed page by page."""

from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, Output, asset

from ut_dagster.defs.usertesting.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    start_api_step,
    table_asset,
    table_write,
)
from ut_dagster.defs.usertesting.resources import SyncSettings
from ut_dagster.lib.landing import utc_now
from ut_dagster.lib.normalize import listing_rows, parse_api_time
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.schema import RAW_SESSIONS
from ut_dagster.lib.sync_policy import deleted_upstream, listing_stop, reconcile_due, table_changes
from ut_dagster.lib.usertesting_api.resource import UserTestingResource

LOADED = "loaded_raw_sessions"
GONE = "gone"  # sessions whose details answered 404 (written by session_details)


@asset(
    **PER_TEST_API_ASSET,
    **table_asset(
        RAW_SESSIONS,
        "One row per completed session UserTesting lists now (the API lists only COMPLETE ones); "
        "sessions deleted upstream are removed.",
    ),
    check_specs=[
        AssetCheckSpec(
            "count_matches_api_total",
            asset=[*KEY_PREFIX, RAW_SESSIONS.name],
            description="raw_sessions holds as many sessions as UserTesting's totalCount at sync time; "
            "sessions beyond the API's offset-paging reach are counted, never dropped silently.",
        )
    ],
)
def raw_sessions(
    context: AssetExecutionContext,
    config: SyncConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncSettings,
):
    step = start_api_step(context, usertesting, object_store)
    test_id, client, landing = step.test_id, step.client, step.landing
    started = utc_now()

    listing = landing.read_listing(test_id)
    held = set(listing.sessions)
    reconcile = (
        config.full
        or config.reconcile
        or reconcile_due(listing.reconciled_at, started, sync_settings.reconcile_hours)
    )
    stop = listing_stop(held, reconcile)
    pages = client.list_sessions(test_id, stop_when=stop)
    for page in pages.pages():
        listed_at = utc_now().isoformat()
        for session in page:
            previous = listing.sessions.get(session["sessionId"])
            # A session seen again unchanged keeps its row: rewriting it would cost warehouse work.
            if previous is None or _as_served(previous) != session:
                listing.sessions[session["sessionId"]] = {**session, "_listed_at": listed_at}
        listing.total_count = pages.progress.total_count
        landing.write_listing(listing)  # landed before the next page is asked for

    progress = pages.progress
    deleted = deleted_upstream(held, progress, stop)
    for session_id in deleted:
        del listing.sessions[session_id]
    if not stop.stopped_early:
        listing.reconciled_at = started.isoformat()
    landing.write_listing(listing)

    gone = landing.read_state(test_id, GONE)
    current = {sid: s["_listed_at"] for sid, s in listing.sessions.items() if sid not in gone}
    changes = table_changes(current, landing.read_state(test_id, LOADED))
    written = current.keys() if config.rebuild else changes.write
    rows = [
        row
        for sid in written
        for row in listing_rows(test_id, [listing.sessions[sid]], parse_api_time(current[sid]) or started)
    ]
    yield Output(
        table_write(RAW_SESSIONS, rows, None if config.rebuild else changes.sessions),
        metadata={
            "api_total_count": progress.total_count,
            "sessions_new": len(listing.sessions.keys() - held),
            "sessions_removed": len(changes.delete),
            "sessions_known_before": len(held),
            "listing_pages": progress.pages,
            "listing_reconciled": not stop.stopped_early,
            "listing_duplicates_skipped": progress.duplicates,
            "sessions_unreachable_by_paging": progress.unreachable,
            **step.spent(),
        },
    )
    # Only now is the warehouse known to hold these rows (the IO manager committed above).
    landing.write_state(test_id, LOADED, current)

    total = progress.total_count or 0
    yield AssetCheckResult(
        check_name="count_matches_api_total",
        passed=len(current) == total,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "rows": len(current),
            "api_total_count": total,
            "sessions_unreachable_by_paging": progress.unreachable,
            "sessions_gone": len(gone),
        },
    )


def _as_served(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "_listed_at"}

"""`usertesting/raw_sessions`: the session listing of a test, paged and landed page by page."""

from collections.abc import Callable

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, Output, asset

from ut_dagster.defs.usertesting.assets.common import (
    API_POOL,
    GROUP,
    KEY_PREFIX,
    SyncConfig,
    frame_metadata,
    start_api_step,
    table_metadata,
)
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.lib.landing import utc_now
from ut_dagster.lib.normalize import listing_rows, parse_api_time, to_frame
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.schema import RAW_SESSIONS
from ut_dagster.lib.usertesting_api.paging import ListingProgress
from ut_dagster.lib.usertesting_api.resource import UserTestingResource


def stop_when_all_known(known: set[str]) -> Callable[[ListingProgress], bool]:
    """Stop paging once every session the API counts is accounted for.

    The listing is newest first but not documented as sorted by finishTime, so a checkpoint on
    finishTime would lose late arrivals and ties. Counting instead: once the sessions we know plus
    those seen this time reach totalCount, no unseen session is left, wherever it sits in the order.
    An unchanged test therefore costs one request however large it is.
    """
    return lambda progress: len(known | progress.seen.keys()) >= (progress.total_count or 0)


@asset(
    key_prefix=KEY_PREFIX,
    group_name=GROUP,
    partitions_def=test_partitions,
    pool=API_POOL,
    metadata=table_metadata(RAW_SESSIONS),
    kinds={"python", "usertesting"},
    check_specs=[AssetCheckSpec("count_matches_api_total", asset=[*KEY_PREFIX, RAW_SESSIONS.name])],
    description=RAW_SESSIONS.description
    + " One row per completed session (the API lists only COMPLETE ones), newest first.",
)
def raw_sessions(
    context: AssetExecutionContext,
    config: SyncConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
):
    step = start_api_step(context, usertesting, object_store)
    test_id, client, landing = step.test_id, step.client, step.landing

    listing = landing.read_listing(test_id)
    known = set(listing.sessions)
    # Full mode pages to the end; both modes merge into what was listed before, so sessions that
    # slipped past offset paging's reach are never dropped.
    pages = client.list_sessions(test_id, stop_when=None if config.full else stop_when_all_known(known))
    for page in pages.pages():
        listed_at = utc_now().isoformat()
        for session in page:
            listing.sessions[session["sessionId"]] = {**session, "_listed_at": listed_at}
        listing.total_count = pages.progress.total_count
        landing.write_listing(listing)

    rows = []
    for session in listing.sessions.values():
        extracted_at = parse_api_time(session.get("_listed_at")) or utc_now()
        rows.extend(listing_rows(test_id, [session], extracted_at))
    frame = to_frame(RAW_SESSIONS, rows).sort_values(
        ["finish_time", "session_id"], ascending=False, na_position="last", ignore_index=True
    )
    progress = pages.progress
    yield Output(
        frame,
        metadata={
            **frame_metadata(frame),
            "api_total_count": progress.total_count,
            "sessions_new": len(listing.sessions.keys() - known),
            "sessions_known_before": len(known),
            "listing_pages": progress.pages,
            "listing_duplicates_skipped": progress.duplicates,
            "sessions_unreachable_by_paging": progress.unreachable,
            **step.spent(),
        },
    )
    yield _count_check(frame, progress)


def _count_check(frame: pd.DataFrame, progress: ListingProgress) -> AssetCheckResult:
    total = progress.total_count or 0
    return AssetCheckResult(
        check_name="count_matches_api_total",
        passed=len(frame) == total,
        severity=AssetCheckSeverity.WARN,
        description="raw_sessions holds as many sessions as the API's totalCount at sync time.",
        metadata={"rows": len(frame), "api_total_count": total},
    )

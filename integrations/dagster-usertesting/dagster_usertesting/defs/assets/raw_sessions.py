"""`usertesting/raw_sessions`: the session listing of a test, paged and landed page by page."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Output,
    ResourceParam,
    asset,
)

from dagster_usertesting.defs.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    counts_text,
    start_api_step,
    table_asset_kwargs,
    table_write,
    warehouse_agrees,
)
from dagster_usertesting.defs.assets.factory import sync_step
from dagster_usertesting.defs.per_test_checks import about_test, per_test_check
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.run_tags import LISTING_HEAD_TAG, run_tag
from dagster_usertesting.defs.runs import title_own_run
from dagster_usertesting.defs.titles import TITLE_METADATA, UNKNOWN_TITLE, known_titles, title_of
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.schema import RAW_SESSIONS
from dagster_usertesting.lib.sync.listing_step import ListingOptions, ListingResult, sync_listing
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager

KEY = [*KEY_PREFIX, RAW_SESSIONS.name]


@sync_step(
    asset,
    **PER_TEST_API_ASSET,
    **table_asset_kwargs(
        RAW_SESSIONS,
        "One row per completed session UserTesting lists now (the API lists only COMPLETE ones). A session "
        "is removed only when consistent walks of the whole listing no longer show it.",
    ),
    check_specs=[
        per_test_check(
            "count_matches_api_total",
            KEY,
            "raw_sessions holds as many sessions as UserTesting's totalCount at sync time; "
            "sessions beyond the API's offset-paging reach are counted, never dropped silently.",
        ),
        per_test_check(
            "no_removal_awaiting_confirmation",
            KEY,
            "Fails while sessions that a walk of the listing no longer showed are kept because "
            "removing them at once would remove too many (UT_DELETE_MAX_SHARE / UT_DELETE_MAX_SESSIONS): "
            "they go only when a walk UT_DELETE_CONFIRM_HOURS later agrees.",
        ),
        per_test_check(
            "warehouse_matches_landing",
            KEY,
            "After the write, the warehouse holds this test's listed sessions exactly as landed.",
        ),
    ],
)
def raw_sessions(
    context: AssetExecutionContext,
    config: SyncConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncPolicyResource,
    io_manager: ResourceParam[WarehouseIOManager],
):
    step = start_api_step(context, usertesting, object_store)
    title = title_of(object_store, step.test_id)
    # The sync's first step: a run from the asset graph's Materialize button has no title tag yet.
    title_own_run(context.instance, context.run, lambda: known_titles(object_store))
    warehouse = io_manager.client()
    options = ListingOptions(
        reconcile_hours=sync_settings.reconcile_hours,
        deletions=sync_settings.deletion_policy(),
        full=config.full,
        reconcile=config.reconcile,
        rebuild=config.rebuild,
        listing_head=run_tag(context.run.tags, LISTING_HEAD_TAG),
    )
    with step.exclusive():
        result = sync_listing(step.test_id, step.client, step.landing, warehouse, options)
    progress, changes, decision = result.progress, result.changes, result.decision
    if decision.note:
        context.log.warning(f"Test {step.test_id}: {decision.note}")
    yield Output(
        table_write(RAW_SESSIONS, result.rows, None if config.rebuild else changes.sessions),
        metadata={
            TITLE_METADATA: title or UNKNOWN_TITLE,
            "api_total_count": progress.total_count,
            "sessions_new": result.new_sessions,
            "sessions_removed": len(decision.delete),
            "sessions_awaiting_removal": len(decision.awaiting),
            "listing_not_conclusive": decision.note or "",
            # Read, not plotted: mostly 0 or following api_total_count / api_requests.
            "listing": counts_text(
                listing_pages=progress.pages,
                listing_walked_all=result.walked_all,
                sessions_known_before=result.held_before,
                listing_duplicates_skipped=progress.duplicates,
                sessions_unreachable_by_paging=progress.unreachable,
            ),
            **step.spent(),
        },
    )
    for check in _checks(result):
        yield about_test(check, step.test_id, title)
    yield about_test(
        warehouse_agrees(
            "warehouse_matches_landing", KEY, warehouse, RAW_SESSIONS, step.test_id, result.current
        ),
        step.test_id,
        title,
    )


def _checks(result: ListingResult) -> Iterator[AssetCheckResult]:
    progress, decision = result.progress, result.decision
    total = progress.total_count or 0
    yield AssetCheckResult(
        check_name="count_matches_api_total",
        passed=len(result.current) == total,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "rows": len(result.current),
            "api_total_count": total,
            "sessions_unreachable_by_paging": progress.unreachable,
        },
    )
    yield AssetCheckResult(
        check_name="no_removal_awaiting_confirmation",
        passed=not decision.awaiting,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "sessions_awaiting_removal": len(decision.awaiting),
            "first_unlisted_at": min(decision.awaiting.values()).isoformat() if decision.awaiting else "",
            "why": decision.note,
        },
    )

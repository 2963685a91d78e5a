"""`usertesting/session_details` and the tables normalized from it: sessions, demographics,
task_groups and tasks.

Each session's v3 result is fetched once, landed as served, and normalized on its way in; a sync
writes the rows of the sessions it fetched and of the sessions deleted upstream, nothing else. The
work is lib/sync/details_step.py's; this module says what Dagster shows.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MetadataValue,
    Output,
    ResourceParam,
    multi_asset,
)

from dagster_usertesting.defs.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    counts_text,
    failures_metadata,
    start_api_step,
    table_out,
    warehouse_agrees,
    write_together,
)
from dagster_usertesting.defs.assets.factory import sync_step
from dagster_usertesting.defs.per_test_checks import about_test, per_test_check
from dagster_usertesting.defs.resources import SyncPolicyResource
from dagster_usertesting.defs.titles import TITLE_METADATA, UNKNOWN_TITLE, title_of
from dagster_usertesting.lib.normalize import SESSION_TABLES
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import SESSION_DETAILS, SESSIONS, TASKS
from dagster_usertesting.lib.sync.details_step import DetailsOptions, DetailsResult, sync_details
from dagster_usertesting.lib.sync.retries import quarantined_of
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.warehouse.io_manager import WarehouseIOManager

RAW_SESSIONS_KEY = AssetKey([*KEY_PREFIX, "raw_sessions"])
SESSIONS_KEY = AssetKey([*KEY_PREFIX, SESSIONS.name])
TASKS_KEY = AssetKey([*KEY_PREFIX, TASKS.name])
DETAILS_KEY = AssetKey([*KEY_PREFIX, SESSION_DETAILS.name])


@sync_step(
    multi_asset,
    name="session_tables",
    **PER_TEST_API_ASSET,
    deps=[RAW_SESSIONS_KEY],
    # The tables are parsed from the landed payloads, so the lineage shows them under session_details.
    internal_asset_deps={
        SESSION_DETAILS.name: {RAW_SESSIONS_KEY},
        **{t.name: {DETAILS_KEY} for t in SESSION_TABLES if t is not SESSION_DETAILS},
    },
    outs={
        SESSION_DETAILS.name: table_out(
            SESSION_DETAILS,
            "Fetched once per session, so each sync asks only for sessions not landed yet.",
        ),
        **{t.name: table_out(t) for t in SESSION_TABLES if t is not SESSION_DETAILS},
    },
    check_specs=[
        per_test_check(
            "all_sessions_parsed",
            DETAILS_KEY,
            "Every session fetched in this sync returned a result that could be read; "
            "unreadable ones are kept in the landing area as 'rejected' and asked for again later.",
        ),
        per_test_check(
            "no_session_quarantined",
            DETAILS_KEY,
            "No listed session has failed UT_SESSION_MAX_FAILURES times in a row. A quarantined "
            "session is not asked again until `ut-dagster sync TEST_ID --retry-failed` (or run config "
            "retry_failed / full); its last error is listed here.",
        ),
        per_test_check(
            "warehouse_matches_landing",
            DETAILS_KEY,
            "After the write, the warehouse holds every landed session payload of this test, "
            "in the version landed (a new or emptied warehouse is refilled from the landing area).",
        ),
        per_test_check(
            "one_row_per_session",
            SESSIONS_KEY,
            "Each session written by this sync has exactly one row in sessions.",
        ),
        per_test_check(
            "every_task_has_its_session",
            TASKS_KEY,
            "Every task answer written by this sync belongs to a session written with it.",
        ),
    ],
)
def session_tables(
    context: AssetExecutionContext,
    config: SyncConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    sync_settings: SyncPolicyResource,
    io_manager: ResourceParam[WarehouseIOManager],
):
    step = start_api_step(context, usertesting, object_store, reports_to=DETAILS_KEY)
    title = title_of(object_store, step.test_id)
    warehouse = io_manager.client()
    options = DetailsOptions(
        sync_settings.retry_policy(),
        full=config.full,
        rebuild=config.rebuild,
        retry_failed=config.retry_failed,
    )

    def progress(todo: int) -> SyncProgress:
        return SyncProgress(context.log, step.test_id, "session_details", todo, step.client.stats)

    with step.exclusive():
        result = sync_details(
            step.test_id, step.client, step.landing, warehouse, options, progress, step.still_registered
        )
    written = write_together(warehouse, step.test_id, result.writes)
    named = {TITLE_METADATA: title or UNKNOWN_TITLE}
    # Written above in one transaction; reported parents first, as the lineage needs.
    yield Output(
        None,
        output_name=SESSION_DETAILS.name,
        metadata={
            **named,
            **written[SESSION_DETAILS.name],
            **_details_metadata(result, sync_settings),
            **step.spent(),
        },
    )
    for table in SESSION_TABLES:
        if table is not SESSION_DETAILS:
            yield Output(None, output_name=table.name, metadata={**named, **written[table.name]})
    agrees = warehouse_agrees(
        "warehouse_matches_landing",
        DETAILS_KEY.path,
        warehouse,
        SESSION_DETAILS,
        step.test_id,
        result.current,
    )
    for check in (*_checks(result, sync_settings), agrees):
        yield about_test(check, step.test_id, title)
    if result.fatal is not None:
        raise result.fatal


def _details_metadata(result: DetailsResult, sync_settings: SyncPolicyResource) -> dict:
    quarantined = quarantined_of(result.failures, sync_settings.retry_policy())
    return {
        "sessions_fetched": result.fetched,
        "sessions_failing": len(result.failures),
        # Read, not plotted: following sessions_fetched, or mostly 0 (the checks carry quarantine).
        "sessions": counts_text(
            sessions_written=len(result.written),
            sessions_removed=len(result.changes.delete),
            sessions_quarantined=len(quarantined),
        ),
        **failures_metadata(result.failed_now),
    }


def _checks(result: DetailsResult, sync_settings: SyncPolicyResource):
    session_ids = result.frame(SESSIONS)["session_id"]
    duplicated = sorted(set(session_ids[session_ids.duplicated()]))
    orphans = sorted(set(result.frame(TASKS)["session_id"]) - set(session_ids))
    quarantined = quarantined_of(result.failures, sync_settings.retry_policy())
    yield AssetCheckResult(
        check_name="all_sessions_parsed",
        asset_key=DETAILS_KEY,
        passed=not result.failed_now,
        metadata=failures_metadata(result.failed_now),
    )
    yield AssetCheckResult(
        check_name="no_session_quarantined",
        asset_key=DETAILS_KEY,
        passed=not quarantined,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "sessions_quarantined": len(quarantined),
            "sessions_backing_off": len(result.failures) - len(quarantined),
            "quarantined": MetadataValue.json(
                {
                    s: {"failures": f.count, "last_error": f.last_error, "last_at": f.last_at.isoformat()}
                    for s, f in sorted(quarantined.items())[:20]
                }
            ),
        },
    )
    yield AssetCheckResult(
        check_name="one_row_per_session",
        asset_key=SESSIONS_KEY,
        passed=not duplicated and set(session_ids) == result.written,
        metadata={"sessions_written": len(result.written), "duplicated": duplicated[:20]},
    )
    yield AssetCheckResult(
        check_name="every_task_has_its_session",
        asset_key=TASKS_KEY,
        passed=not orphans,
        metadata={"orphan_sessions": orphans[:20]},
    )

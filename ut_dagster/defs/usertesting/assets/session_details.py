"""`usertesting/session_details` and the tables normalized from it: sessions, demographics,
task_groups and tasks.

Each session's v3 result is fetched once, landed as served, and normalized on its way in; a sync
writes the rows of the sessions it fetched and of the sessions deleted upstream, nothing else.
"""

import json
from datetime import datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Output,
    multi_asset,
)

from ut_dagster.defs.usertesting.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    failures_metadata,
    start_api_step,
    table_out,
    table_write,
)
from ut_dagster.lib.ids import TestId
from ut_dagster.lib.landing import LandedObject, Landing, stamp, utc_now
from ut_dagster.lib.normalize import details_rows, parse_details, session_details_row
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.progress import SyncProgress
from ut_dagster.lib.schema import DEMOGRAPHICS, SESSION_DETAILS, SESSIONS, TASK_GROUPS, TASKS
from ut_dagster.lib.sync_policy import consecutive_failures_exceeded, table_changes
from ut_dagster.lib.usertesting_api.errors import (
    UserTestingError,
    UserTestingNotFoundError,
    UserTestingUnavailableError,
)
from ut_dagster.lib.usertesting_api.resource import UserTestingResource

FOLDER = "session_details"
LOADED = "loaded_session_details"
GONE = "gone"
TRAITS = "traits"  # what the payloads tell about the test, e.g. whether it has QXscore groups
TABLES = (SESSION_DETAILS, SESSIONS, DEMOGRAPHICS, TASK_GROUPS, TASKS)
RAW_SESSIONS_KEY = AssetKey([*KEY_PREFIX, "raw_sessions"])
SESSIONS_KEY = AssetKey([*KEY_PREFIX, SESSIONS.name])
TASKS_KEY = AssetKey([*KEY_PREFIX, TASKS.name])
DETAILS_KEY = AssetKey([*KEY_PREFIX, SESSION_DETAILS.name])
# 404s one after another mean the test's access was revoked mid-run, not that sessions were deleted.
MAX_404_IN_A_ROW = 3

Rows = dict[str, list[dict]]


@multi_asset(
    name="session_tables",
    **PER_TEST_API_ASSET,
    deps=[RAW_SESSIONS_KEY],
    outs={
        SESSION_DETAILS.name: table_out(
            SESSION_DETAILS,
            "Fetched once per session, so each sync asks only for sessions not landed yet.",
            calls_api=True,
        ),
        **{t.name: table_out(t) for t in TABLES[1:]},
    },
    check_specs=[
        AssetCheckSpec(
            "all_sessions_parsed",
            asset=DETAILS_KEY,
            description="Every session fetched in this sync returned a result that could be read; "
            "unreadable ones are kept in the landing area as 'rejected' and asked for again next sync.",
        ),
        AssetCheckSpec(
            "one_row_per_session",
            asset=SESSIONS_KEY,
            description="Each session written by this sync has exactly one row in sessions.",
        ),
        AssetCheckSpec(
            "every_task_has_its_session",
            asset=TASKS_KEY,
            description="Every task answer written by this sync belongs to a session written with it.",
        ),
    ],
)
def session_tables(
    context: AssetExecutionContext,
    config: SyncConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
):
    step = start_api_step(context, usertesting, object_store)
    test_id, client, landing = step.test_id, step.client, step.landing
    started = utc_now()

    listing = landing.read_listing(test_id)
    # A tombstone lasts while the listing still shows the session; then the listing itself says so.
    gone = {sid: at for sid, at in landing.read_state(test_id, GONE).items() if sid in listing.sessions}
    listed = [sid for sid in listing.sessions if sid not in gone]
    all_landed = landing.latest_by_session(test_id, FOLDER)
    landing.delete_sessions(test_id, FOLDER, all_landed.keys() - set(listed))
    landed = {sid: obj for sid, objs in all_landed.items() if (obj := _latest_valid(objs)) and sid in listed}

    to_fetch = [
        sid for sid in listed if sid not in landed or (config.full and landed[sid].received_at < started)
    ]
    failures: dict[str, str] = {}
    normalized: dict[str, Rows] = {}
    fatal: UserTestingError | None = None
    maybe_gone: list[str] = []
    unavailable_in_a_row = 0
    progress = SyncProgress(context.log, test_id, "session_details", len(to_fetch), client.stats)
    for session_id in to_fetch:
        progress.advance()
        try:
            raw = client.get_session_details_raw(session_id)
        except UserTestingNotFoundError as exc:
            maybe_gone.append(session_id)
            if len(maybe_gone) >= MAX_404_IN_A_ROW:
                fatal = exc
                break
            continue
        except UserTestingUnavailableError as exc:
            # Recorded and retried next sync; several in a row mean the API is down: stop asking.
            failures[session_id] = str(exc)
            unavailable_in_a_row += 1
            if consecutive_failures_exceeded(unavailable_in_a_row):
                fatal = exc
                break
            continue
        except UserTestingError as exc:  # credentials, budget, bad request: no session would succeed
            fatal = exc
            break
        _confirm_gone(landing, test_id, maybe_gone, gone, landed)
        unavailable_in_a_row = 0
        received_at = utc_now()
        try:
            normalized[session_id] = _rows(test_id, session_id, parse_details(session_id, raw), received_at)
        except ValueError as exc:  # MalformedPayloadError: not UTF-8, not JSON, too deep, not an object
            # Kept for diagnosis but not counted as landed, so the next sync asks again.
            envelope = {"error": str(exc), "body": raw.decode("utf-8", errors="replace")}
            landing.put_session_object(
                test_id, FOLDER, session_id, "rejected.json", json.dumps(envelope).encode(), received_at
            )
            failures[session_id] = str(exc)
            context.log.warning(f"Session {session_id}: {exc}")
            continue
        landed[session_id] = landing.put_session_object(test_id, FOLDER, session_id, "json", raw, received_at)
    progress.finish()
    if fatal is None:
        _confirm_gone(landing, test_id, maybe_gone, gone, landed)

    fetched = len(normalized)
    _remember_qx_groups(landing, test_id, normalized)
    current = {sid: stamp(obj.received_at) for sid, obj in landed.items()}
    changes = table_changes(current, landing.read_state(test_id, LOADED))
    written = set(current) if config.rebuild else set(changes.write)
    # Landed by an earlier run whose write did not commit (killed, warehouse down), or a rebuild:
    # normalized from the landing area, without asking the API again.
    pending = [landed[sid] for sid in written - normalized.keys()]
    for obj, body in landing.read_many(pending):
        try:
            normalized[obj.session_id] = _rows(
                test_id, obj.session_id, parse_details(obj.session_id, body), obj.received_at
            )
        except ValueError as exc:
            failures[obj.session_id] = str(exc)
            del current[obj.session_id]
    written &= current.keys()
    sessions = None if config.rebuild else frozenset(written | changes.delete)
    frames = {
        t.name: table_write(t, [row for sid in written for row in normalized[sid][t.name]], sessions)
        for t in TABLES
    }
    for table in TABLES:
        extra = {
            "sessions_fetched": fetched,
            "sessions_written": len(written),
            "sessions_removed": len(changes.delete),
            **failures_metadata(failures),
            **step.spent(),
        }
        yield Output(
            frames[table.name], output_name=table.name, metadata=extra if table is SESSION_DETAILS else {}
        )
    # Only now is the warehouse known to hold these rows (the IO manager committed above).
    landing.write_state(test_id, LOADED, current)
    yield from _checks(frames, written, failures)
    if fatal is not None:
        raise fatal


def _rows(test_id: str, session_id: str, payload: object, received_at: datetime) -> Rows:
    return {
        SESSION_DETAILS.name: [session_details_row(test_id, session_id, payload, received_at)],
        **details_rows(test_id, session_id, payload, received_at),
    }


def _remember_qx_groups(landing: Landing, test_id: TestId, normalized: dict[str, Rows]) -> None:
    """Note once that the test's sessions carry QXscore groups: only then has it a QXscore to ask for."""
    if any(
        g["task_group_type"] == "QX_SCORE" for rows in normalized.values() for g in rows[TASK_GROUPS.name]
    ):
        traits = landing.read_state(test_id, TRAITS)
        if not traits.get("qx_score_groups"):
            landing.write_state(test_id, TRAITS, {**traits, "qx_score_groups": True})


def _confirm_gone(
    landing: Landing, test_id: TestId, maybe_gone: list[str], gone: dict[str, str], landed: dict
) -> None:
    """A detail 404 means the session was deleted: never asked again, and removed everywhere."""
    if not maybe_gone:
        return
    for session_id in maybe_gone:
        gone[session_id] = utc_now().isoformat()
        landed.pop(session_id, None)
    landing.write_state(test_id, GONE, gone)
    landing.delete_sessions(test_id, FOLDER, maybe_gone)
    maybe_gone.clear()


def _latest_valid(objects: list[LandedObject]) -> LandedObject | None:
    return next((o for o in objects if o.kind == "json"), None)


def _checks(frames: dict, written: set[str], failures: dict[str, str]):
    sessions = frames[SESSIONS.name].rows
    tasks = frames[TASKS.name].rows
    duplicated = sessions["session_id"][sessions["session_id"].duplicated()].tolist()
    yield AssetCheckResult(
        check_name="all_sessions_parsed",
        asset_key=DETAILS_KEY,
        passed=not failures,
        metadata=failures_metadata(failures),
    )
    yield AssetCheckResult(
        check_name="one_row_per_session",
        asset_key=SESSIONS_KEY,
        passed=not duplicated and set(sessions["session_id"]) == written,
        metadata={"sessions_written": len(written), "duplicated": duplicated[:20]},
    )
    orphans = sorted(set(tasks["session_id"]) - set(sessions["session_id"]))
    yield AssetCheckResult(
        check_name="every_task_has_its_session",
        asset_key=TASKS_KEY,
        passed=not orphans,
        metadata={"orphan_sessions": orphans[:20]},
    )

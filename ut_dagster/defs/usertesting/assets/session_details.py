"""`usertesting/session_details`: each session's full v3 result, fetched once and kept whole."""

import json
from datetime import datetime

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, AssetExecutionContext, AssetIn, Output, asset

from ut_dagster.defs.usertesting.assets.common import (
    API_POOL,
    GROUP,
    KEY_PREFIX,
    SyncConfig,
    failures_metadata,
    frame_metadata,
    start_api_step,
    table_metadata,
)
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.lib.landing import LandedObject, utc_now
from ut_dagster.lib.normalize import details_rows, to_frame
from ut_dagster.lib.object_store import ObjectStoreResource
from ut_dagster.lib.schema import SESSION_DETAILS
from ut_dagster.lib.usertesting_api.errors import UserTestingNotFoundError
from ut_dagster.lib.usertesting_api.resource import UserTestingResource

FOLDER = "session_details"


@asset(
    key_prefix=KEY_PREFIX,
    group_name=GROUP,
    partitions_def=test_partitions,
    pool=API_POOL,
    ins={"raw_sessions": AssetIn(key=[*KEY_PREFIX, "raw_sessions"])},
    metadata=table_metadata(SESSION_DETAILS),
    kinds={"python", "usertesting"},
    check_specs=[AssetCheckSpec("all_sessions_parsed", asset=[*KEY_PREFIX, SESSION_DETAILS.name])],
    description=SESSION_DETAILS.description
    + " Participants' demographics, task groups and answers; fetched once per session, so each "
    "sync asks only for sessions not landed yet.",
)
def session_details(
    context: AssetExecutionContext,
    config: SyncConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    raw_sessions: pd.DataFrame,
):
    step = start_api_step(context, usertesting, object_store)
    test_id, client, landing = step.test_id, step.client, step.landing
    step_started = utc_now()

    landed = _latest_valid(landing.latest_by_session(test_id, FOLDER))
    failures: dict[str, str] = {}
    fetched = unchanged = 0
    for session_id in raw_sessions["session_id"]:
        previous = landed.get(session_id)
        if previous is not None and not (config.full and previous.received_at < step_started):
            unchanged += 1
            continue
        try:
            raw = client.get_session_details_raw(session_id)
        except UserTestingNotFoundError as exc:
            # Listed but not readable (deleted since, or access changed): the others still land.
            failures[session_id] = str(exc)
            continue
        received_at = utc_now()
        fetched += 1
        problem = _problem(test_id, session_id, raw, received_at)
        if problem is None:
            landed[session_id] = landing.put_session_object(
                test_id, FOLDER, session_id, "json", raw, received_at
            )
        else:
            # Kept for diagnosis but not counted as landed, so the next sync asks again.
            envelope = {"error": problem, "body": raw.decode("utf-8", errors="replace")}
            landing.put_session_object(
                test_id, FOLDER, session_id, "rejected.json", json.dumps(envelope).encode(), received_at
            )
            failures[session_id] = problem
            context.log.warning(f"Session {session_id}: {problem}")

    rows = [
        {
            "test_id": test_id,
            "session_id": obj.session_id,
            "details_json": body.decode("utf-8"),
            "extracted_at": obj.received_at,
        }
        for obj, body in landing.read_many(landed.values())
    ]
    frame = to_frame(SESSION_DETAILS, rows)
    yield Output(
        frame,
        metadata={
            **frame_metadata(frame),
            "sessions_fetched": fetched,
            "sessions_unchanged": unchanged,
            **failures_metadata(failures),
            **step.spent(),
        },
    )
    yield AssetCheckResult(
        check_name="all_sessions_parsed",
        passed=not failures,
        description="Every session fetched in this sync returned a result that could be read.",
        metadata=failures_metadata(failures),
    )


def _latest_valid(landed: dict[str, list[LandedObject]]) -> dict[str, LandedObject]:
    valid: dict[str, LandedObject] = {}
    for session_id, objects in landed.items():
        good = next((o for o in objects if o.kind == "json"), None)
        if good is not None:
            valid[session_id] = good
    return valid


def _problem(test_id: str, session_id: str, raw: bytes, received_at: datetime) -> str | None:
    """Why a payload cannot be used, or None. Normalizing it now keeps bad payloads out of the tables."""
    try:
        details_rows(test_id, session_id, json.loads(raw), received_at)
    except ValueError as exc:  # JSONDecodeError and MalformedPayloadError both are ValueErrors
        return f"unreadable details payload: {exc}"
    return None

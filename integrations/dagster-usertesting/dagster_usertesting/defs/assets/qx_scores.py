"""`usertesting/qx_scores`: the test-level QXscore, refetched only when the test has new sessions."""

import json

from dagster import AssetExecutionContext, AssetKey, Output, asset

from dagster_usertesting.defs.assets.common import (
    KEY_PREFIX,
    PER_TEST_API_ASSET,
    SyncConfig,
    start_api_step,
    table_asset_kwargs,
    table_write,
)
from dagster_usertesting.defs.assets.factory import sync_step
from dagster_usertesting.defs.titles import title_metadata
from dagster_usertesting.lib.landing import utc_now
from dagster_usertesting.lib.normalize import qx_score_rows
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.schema import QX_SCORES
from dagster_usertesting.lib.sync.state import SyncState
from dagster_usertesting.lib.usertesting_api.errors import UserTestingUnavailableError
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource

FOLDER = "qx_scores"


@sync_step(
    asset,
    **PER_TEST_API_ASSET,
    **table_asset_kwargs(
        QX_SCORES,
        "Interaction tests only; other tests have no rows. Computed by UserTesting over all completed sessions.",
    ),
    # After session_details: it notes whether the sessions carry QXscore groups.
    deps=[AssetKey([*KEY_PREFIX, "session_details"])],
)
def qx_scores(
    context: AssetExecutionContext,
    config: SyncConfig,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
):
    step = start_api_step(context, usertesting, object_store)
    test_id, client, landing = step.test_id, step.client, step.landing

    # Only tests whose sessions carry QXscore groups have a QXscore (session_tables notes it), and
    # the score only changes when sessions complete: with the same number of sessions as at the last
    # fetch, the landed answer is still the answer and costs no request.
    has_qx = SyncState(landing, test_id).has_qx_score_groups()
    sessions_now = len(landing.read_listing(test_id).sessions)
    previous = landing.latest_test_object(test_id, FOLDER)
    envelope = json.loads(previous[1]) if previous else {"payload": None}
    changed = previous is None or envelope.get("sessions_at_fetch") != sessions_now
    fetched = (config.full or (has_qx and changed)) and step.still_registered()
    kept_because = ""
    received_at = previous[0] if previous else utc_now()
    if fetched:
        with step.exclusive():
            try:
                answer = client.get_qx_scores(test_id)
            except UserTestingUnavailableError as exc:
                # The test's sessions landed already: a failing QXscore must not fail (or loop) the run.
                answer, kept_because = envelope.get("payload"), f"QXscores not available now: {exc}"
        if answer is None and envelope.get("payload") is not None:
            # A 404 where a score was served before is a question, not an answer: keep the score.
            answer, kept_because = envelope["payload"], kept_because or "QXscores answered 404; score kept"
        if not kept_because:
            received_at = utc_now()
            envelope = {"sessions_at_fetch": sessions_now, "payload": answer}
            landing.put_test_object(
                test_id, FOLDER, json.dumps(envelope, ensure_ascii=False).encode(), received_at
            )
    if kept_because:
        context.log.warning(f"Test {test_id}: {kept_because}")
    payload = envelope.get("payload")
    rows = qx_score_rows(test_id, payload, received_at) if payload is not None else []
    yield Output(
        table_write(QX_SCORES, rows, None),
        metadata={
            **title_metadata(object_store, test_id),
            "qx_scores_refetched": fetched,
            "qx_available": payload is not None,
            "qx_score_groups_seen": has_qx,
            "qx_kept_previous": kept_because,
            **step.spent(),
        },
    )

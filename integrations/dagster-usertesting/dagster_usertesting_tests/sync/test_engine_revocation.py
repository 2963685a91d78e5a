"""A test revoked in the middle of a per-session step marks no session, and a walk always ends.

Each scenario was found by the model test of the engine (test_engine_model.py) and is pinned here.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.sync.deletions import DeletionPolicy
from dagster_usertesting.lib.sync.details_step import DetailsOptions, sync_details
from dagster_usertesting.lib.sync.listing_step import ListingOptions, sync_listing
from dagster_usertesting.lib.sync.retries import RetryPolicy
from dagster_usertesting.lib.sync.state import DETAILS, SyncState
from dagster_usertesting.lib.sync.transcripts_step import TranscriptOptions, sync_transcripts
from dagster_usertesting.lib.sync.videos_step import VideoOptions, sync_videos
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec

ROOMY = {"requests_per_window": 5000, "window_seconds": 1.0, "video_size_bytes": 1024}
LOG = logging.getLogger(__name__)


def _progress(client) -> Callable[[int], SyncProgress]:
    return lambda todo: SyncProgress(LOG, "test", "step", todo, client.stats)


@pytest.fixture
def synced_listing(start_sandbox, sandbox_resource, tmp_path: Path):
    """A test whose listing is landed (its sessions held), nothing else fetched yet."""

    def make(kind: str, sessions: int = 3):
        sandbox = start_sandbox(studies=(StudySpec(kind, sessions),), **ROOMY)
        client = sandbox_resource(sandbox, max_retries=0).get_client()
        test_id = TestId(sandbox.test_ids[0])
        landing = Landing(LocalObjectStore(tmp_path / "landing"))
        warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
        sync_listing(
            test_id, client, landing, warehouse, ListingOptions(24.0, DeletionPolicy(), reconcile=True)
        )
        return sandbox, client, test_id, landing, warehouse

    return make


def test_details_revoked_after_a_session_s_own_404_marks_only_that_session(synced_listing):
    sandbox, client, test_id, landing, warehouse = synced_listing(SURVEY, sessions=6)
    gone = sandbox.dataset.session_ids(test_id)[0]  # the details step asks in listing order
    sandbox.dataset.delete_sessions([gone])  # its 404 is its own: the next session is served ...
    sandbox.revoke_after(test_id, 2, endpoint="session_details")  # ... then the test is revoked

    result = sync_details(
        test_id, client, landing, warehouse, DetailsOptions(RetryPolicy()), _progress(client)
    )

    assert result.fatal is not None
    # `gone` answered 404 while its test answered (the next session was served): failing. The
    # sessions that answered 404 after the revocation are not marked.
    assert set(SyncState(landing, test_id).failures(DETAILS)) == {gone}


def test_transcripts_of_a_revoked_test_are_not_recorded_as_missing(synced_listing):
    sandbox, client, test_id, landing, warehouse = synced_listing(THINK_OUT_LOUD)
    sandbox.revoke_test(test_id)  # between the listing and the transcripts step: every answer is 404

    result = sync_transcripts(
        test_id, client, landing, warehouse, TranscriptOptions(RetryPolicy()), _progress(client)
    )

    # A 404 from a revoked test says nothing about a session's transcript: the step stops, and the
    # sessions' transcripts are asked for on the next sync, not recorded as "none yet" (which, for a
    # session finished more than `wait_hours` ago, is never asked again).
    assert result.fatal is not None
    assert landing.latest_by_session(test_id, "transcripts") == {}


def test_videos_of_a_revoked_test_are_not_recorded_as_absent(synced_listing):
    sandbox, client, test_id, landing, _ = synced_listing(THINK_OUT_LOUD)
    sandbox.revoke_test(test_id)

    result = sync_videos(test_id, client, landing, VideoOptions(RetryPolicy()), _progress(client))

    assert result.fatal is not None
    assert list(landing.store.list_keys(f"videos/{test_id}/")) == []


def test_a_session_without_a_transcript_is_recorded_missing_once_its_test_is_known_to_answer(synced_listing):
    sandbox, client, test_id, landing, warehouse = synced_listing(THINK_OUT_LOUD)
    last = sandbox.dataset.session_ids(test_id)[-1]  # asked last: no later success vouches for it
    sandbox.set_transcript_available(last, False)

    result = sync_transcripts(
        test_id, client, landing, warehouse, TranscriptOptions(RetryPolicy()), _progress(client)
    )

    assert result.fatal is None
    assert [o.kind for o in landing.latest_by_session(test_id, "transcripts")[last]] == ["missing"]
    probes = [
        r for r in sandbox.requests if r["endpoint"] == "list_sessions" and r["query"].get("limit") == "1"
    ]
    assert len(probes) == 1  # the step's end asked the test once


def test_a_walk_of_an_over_counted_listing_that_grows_while_paged_ends(start_sandbox, sandbox_resource):
    # A totalCount one too high, and a session arriving before each answer (a busy test at launch):
    # at the end of the listing every page serves one session, the one the newest pushed there, and
    # the count stays one ahead, so the walk paged one session at a time up to the 10,000 offset cap
    # (10,000 requests: 16 hours of the API's budget).
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 5),), **ROOMY)
    client = sandbox_resource(sandbox, max_retries=0).get_client()
    sandbox.configure(listing_count_bias=1, arrivals_per_list_request=1)

    listing = client.list_sessions(TestId(sandbox.test_ids[0]))
    for _page in listing.pages():
        if listing.progress.pages > 50:
            break

    assert listing.progress.pages <= 50, (
        f"{listing.progress.pages} pages for {len(listing.progress.seen)} sessions"
    )
    assert not listing.progress.verdict().complete

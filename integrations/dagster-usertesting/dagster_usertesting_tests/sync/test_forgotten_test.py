"""A test forgotten while its sync is running: nothing more of it lands (issue 16, point 7)."""

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.sync.deletions import DeletionPolicy
from dagster_usertesting.lib.sync.details_step import DetailsOptions, sync_details
from dagster_usertesting.lib.sync.listing_step import ListingOptions, sync_listing
from dagster_usertesting.lib.sync.retries import RetryPolicy
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse
from dagster_usertesting.testing import SURVEY, StudySpec


class _Log:
    def info(self, message: str) -> None:
        pass


def test_a_test_forgotten_mid_run_lands_and_asks_nothing_more(tmp_path, start_sandbox, sandbox_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 6),), requests_per_window=5000)
    test_id = TestId(sandbox.test_ids[0])
    client = sandbox_resource(sandbox).get_client()
    landing = Landing(LocalObjectStore(str(tmp_path / "objects")))
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    sync_listing(test_id, client, landing, warehouse, ListingOptions(24, DeletionPolicy()))
    asked = iter([True, True])  # still registered for two sessions, then `ut-dagster forget`

    def progress(todo: int) -> SyncProgress:
        return SyncProgress(_Log(), test_id, "session_details", todo, client.stats)

    sandbox.reset_requests()
    sync_details(
        test_id,
        client,
        landing,
        warehouse,
        DetailsOptions(RetryPolicy()),
        progress,
        lambda: next(asked, False),
    )

    assert len(landing.latest_by_session(test_id, "session_details")) == 2
    assert len([r for r in sandbox.requests if r["path"].startswith("/api/v3/")]) == 2

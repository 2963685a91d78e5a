"""Resources of the UserTesting sync that are not clients: how often to reconcile, and the like."""

from dagster import ConfigurableResource
from pydantic import Field


class SyncSettings(ConfigurableResource):
    """Sync policy set by the deployment (UT_* settings), the same for every run."""

    reconcile_hours: float = Field(
        default=24.0,
        description="Walk each test's whole listing at least this often, to remove sessions deleted "
        "upstream (UT_RECONCILE_HOURS).",
    )
    freshness_hours: float = Field(
        default=26.0,
        description="Warn when a registered test was not synced for this long (UT_FRESHNESS_HOURS).",
    )
    max_failed_runs: int = Field(
        default=14,
        description="Failed sync runs in a row after which a test is no longer synced until a run of it "
        "succeeds (UT_TEST_MAX_FAILED_RUNS).",
    )

"""Resources of the UserTesting sync that are not clients: how often to reconcile, and the like."""

from dagster import ConfigurableResource
from pydantic import Field

from ut_dagster.lib.sync.deletions import DeletionPolicy
from ut_dagster.lib.sync.retries import RetryPolicy


class SyncSettings(ConfigurableResource):
    """How syncs retry, remove and judge freshness, set by the deployment's UT_* settings."""

    reconcile_hours: float = Field(
        default=24.0,
        description="Walk each test's whole listing at least this often, to remove sessions deleted "
        "upstream (UT_RECONCILE_HOURS).",
    )
    freshness_hours: float = Field(
        default=26.0,
        description="Warn when a registered test was not synced for this long (UT_FRESHNESS_HOURS).",
    )
    freshness_lag_minutes: float = Field(
        default=120.0,
        description="Warn when a test's newest listed session is not in the warehouse this long after "
        "it was listed (UT_FRESHNESS_LAG_MINUTES).",
    )
    delete_max_share: float = Field(
        default=DeletionPolicy.max_share,
        description="Share of a test's sessions one consistent walk may remove by itself (UT_DELETE_MAX_SHARE).",
    )
    delete_max_sessions: int = Field(
        default=DeletionPolicy.max_sessions,
        description="Most sessions one consistent walk may remove by itself (UT_DELETE_MAX_SESSIONS).",
    )
    delete_confirm_hours: float = Field(
        default=DeletionPolicy.confirm_hours,
        description="A larger removal waits for a second consistent walk at least this much later "
        "(UT_DELETE_CONFIRM_HOURS).",
    )
    session_retry_minutes: float = Field(
        default=RetryPolicy.first_retry_minutes,
        description="First wait before a failing session is asked again; doubles up to daily "
        "(UT_SESSION_RETRY_MINUTES).",
    )
    session_max_failures: int = Field(
        default=RetryPolicy.quarantine_after,
        description="Failures in a row after which a session is quarantined (UT_SESSION_MAX_FAILURES).",
    )

    def deletion_policy(self) -> DeletionPolicy:
        return DeletionPolicy(self.delete_max_share, self.delete_max_sessions, self.delete_confirm_hours)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_retry_minutes=self.session_retry_minutes, quarantine_after=self.session_max_failures
        )

    clips: bool = Field(
        default=True,
        description="Sync highlight reels, clips and clip transcripts of tests that have clips (UT_CLIPS).",
    )

    max_failed_runs: int = Field(
        default=14,
        description="Failed sync runs in a row after which a test is no longer synced until a run of it "
        "succeeds (UT_TEST_MAX_FAILED_RUNS).",
    )

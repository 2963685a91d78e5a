"""The UserTesting sync's resources, built from the parsed settings: the API, the object store, the
warehouse, and `SyncPolicyResource` (how often to reconcile, and the like)."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.sync.deletions import DeletionPolicy
from dagster_usertesting.lib.sync.retries import RetryPolicy
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.settings import SyncSettings


class SyncPolicyResource(ConfigurableResource):
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


def sync_resources(settings: SyncSettings) -> dict[str, Any]:
    """What the UserTesting sync needs: the API, the object store, the warehouse IO manager."""
    return {
        "usertesting": usertesting_resource(settings),
        "object_store": ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url),
        "io_manager": warehouse_io_manager(settings),
        "sync_settings": SyncPolicyResource(
            reconcile_hours=settings.reconcile_hours,
            freshness_hours=settings.freshness_hours,
            freshness_lag_minutes=settings.freshness_lag_minutes,
            delete_max_share=settings.delete_max_share,
            delete_max_sessions=settings.delete_max_sessions,
            delete_confirm_hours=settings.delete_confirm_hours,
            session_retry_minutes=settings.session_retry_minutes,
            session_max_failures=settings.session_max_failures,
            max_failed_runs=settings.sensors.max_failed_runs,
            clips=settings.clips,
        ),
    }


def usertesting_resource(settings: SyncSettings) -> UserTestingResource:
    """The API client's resource: the USERTESTING_* settings, else the resource's defaults."""
    # USERTESTING_RATE_LIMIT_STORE, when set, wins (as a secret); this is the local default.
    return UserTestingResource(
        **{"rate_limit_store": settings.rate_limit_store, **settings.usertesting.fields}
    )


def warehouse_io_manager(settings: SyncSettings) -> Any:
    """The IO manager for the configured warehouse (Snowflake modules load only when chosen)."""
    from dagster_usertesting.lib import warehouse

    if settings.warehouse == "snowflake":
        return warehouse.snowflake_io_manager()
    return warehouse.duckdb_io_manager(settings.duckdb_path, lock_timeout_s=settings.duckdb_lock_timeout_s)

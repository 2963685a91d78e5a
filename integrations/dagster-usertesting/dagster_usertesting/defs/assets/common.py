"""What every UserTesting asset shares: key prefix, partitioning, run config, metadata (the pool: factory.py)."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetObservation,
    AssetOut,
    Config,
    DagsterInstance,
    MetadataValue,
)
from pydantic import Field

from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.normalize import to_frame
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.schema import SCHEMA, Table, column_schema
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.usertesting_api.stats import RequestStats
from dagster_usertesting.lib.warehouse import TableWrite, WarehouseClient

KEY_PREFIX = [SCHEMA]
GROUP = SCHEMA
# A holder killed with SIGKILL lets go of a test's step lease within its ttl
# (USERTESTING_STEP_LEASE_SECONDS, 120 s): a step started right after a crash waits that out, with a
# margin, instead of failing.
STEP_LEASE_WAIT_FACTOR = 1.25
# The decorator arguments of every asset that syncs one test (one partition) from the API.
PER_TEST_API_ASSET: dict[str, Any] = {
    "partitions_def": test_partitions,
    "group_name": GROUP,
}


class SyncConfig(Config):
    """Run configuration of the assets that call UserTesting."""

    full: bool = Field(
        default=False,
        description="Refetch everything for the test instead of only what is not landed yet.",
    )
    reconcile: bool = Field(
        default=False,
        description="Walk the test's whole listing and remove sessions deleted upstream from every "
        "table, the landing area and the video archive (also done every UT_RECONCILE_HOURS).",
    )
    rebuild: bool = Field(
        default=False,
        description="Rewrite the test's rows from the landing area (after a normalizer fix); "
        "asks the API only for what is new.",
    )
    retry_failed: bool = Field(
        default=False,
        description="Ask again now for sessions that keep failing, quarantined ones included, instead "
        "of waiting for their retry time.",
    )


@dataclass
class ApiStep:
    """What an API-calling asset works with for one test partition, and what it spent."""

    test_id: TestId
    client: UserTestingClient
    landing: Landing
    stats_before: RequestStats  # advanced by each report, so nothing is reported twice
    usertesting: UserTestingResource
    holder: str  # who holds the test's API step: the run
    instance: DagsterInstance
    context: Any = None  # the asset's execution context, for the report of a failed step
    reports_to: AssetKey | None = None  # the asset whose events carry the step's requests

    def spent(self) -> dict[str, Any]:
        """Requests by endpoint (zeros included), 429s, retries and budget waits of this step not
        reported yet, as metadata (see RequestStats.as_metadata for which entries the UI plots)."""
        now = self.client.stats.snapshot()
        spent = now.since(self.stats_before)
        self.stats_before = now
        return spent.as_metadata()

    def still_registered(self) -> bool:
        """False once `ut-dagster forget` unregistered the test: nothing more of it may land."""
        return self.instance.has_dynamic_partition(test_partitions.name, self.test_id)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the test's API step for the credential: runs of any Dagster instance that overlap on
        a test would otherwise ask for the same sessions twice. Waits out a crashed holder's lease;
        a live one makes this step fail with StepBusyError, having asked nothing.

        Every request of a step is made in this block. When it raises, the requests made so far are
        reported on the asset's partition as an observation before the error goes on: a failed step
        has no materialization to carry them."""
        try:
            with self.usertesting.step_lease(
                f"test:{self.test_id}",
                self.holder,
                wait_seconds=self.usertesting.step_lease_seconds * STEP_LEASE_WAIT_FACTOR,
            ):
                yield
        except BaseException as exc:
            self._report_failed(exc)
            raise

    def _report_failed(self, exc: BaseException) -> None:
        if self.context is None or self.reports_to is None:
            return
        self.context.log_event(
            AssetObservation(
                asset_key=self.reports_to,
                partition=self.test_id,
                description=f"API requests of a step that failed ({type(exc).__name__}).",
                metadata={**self.spent(), "api_step_failed": type(exc).__name__},
            )
        )


def start_api_step(
    context,
    usertesting: UserTestingResource,
    object_store: ObjectStoreResource,
    reports_to: AssetKey | None = None,
) -> ApiStep:
    """`reports_to`: the output that carries the step's requests; by default the asset's only key."""
    client = usertesting.get_client()
    return ApiStep(
        partition_test_id(context),
        client,
        Landing(object_store.store()),
        client.stats.snapshot(),
        usertesting,
        f"run {context.run.run_id}",
        context.instance,
        context,
        reports_to or context.assets_def.key,
    )


def warehouse_agrees(
    check_name: str,
    asset_key: list[str],
    warehouse: WarehouseClient,
    table: Table,
    test_id: TestId,
    current: Mapping[str, datetime],
) -> AssetCheckResult:
    """After the write: does the warehouse hold exactly the landed version of each session?

    Read back from the warehouse, so a dropped table, a restored backup or a switched warehouse shows
    here until the next sync has filled it from the landing area.
    """
    loaded = warehouse.session_versions(table, test_id)
    stale = sorted(s for s, version in current.items() if loaded.get(s) != version)
    extra = sorted(loaded.keys() - current.keys())
    return AssetCheckResult(
        check_name=check_name,
        asset_key=AssetKey(asset_key),
        passed=not stale and not extra,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "sessions_landed": len(current),
            "sessions_in_warehouse": len(loaded),
            "sessions_missing_or_stale": len(stale),
            "sessions_not_landed": len(extra),
            "examples": MetadataValue.json({"missing_or_stale": stale[:10], "not_landed": extra[:10]}),
        },
    )


def table_write(table: Table, rows: list[dict[str, Any]], sessions: frozenset[str] | None) -> TableWrite:
    """The rows of the sessions that changed; `sessions=None` replaces the test's whole partition."""
    return TableWrite(table, to_frame(table, rows), sessions)


def write_together(
    warehouse: WarehouseClient, test_id: str, writes: list[TableWrite]
) -> dict[str, dict[str, Any]]:
    """Write a test's tables in one transaction, and each table's materialization metadata.

    Readers see a session in every table parsed from its payload or in none, and a run killed
    mid-write leaves nothing the next sync would take as loaded (it reads session_details).
    """
    results = warehouse.write_many(test_id, writes)
    return {write.table.name: result.metadata() for write, result in zip(writes, results, strict=True)}


def table_asset_kwargs(table: Table, note: str = "") -> dict[str, Any]:
    """The `@asset` keyword arguments for warehouse table `table`: key prefix, UI metadata, kinds and
    business description."""
    return {
        "key_prefix": KEY_PREFIX,
        "metadata": table_metadata(table),
        # Every table holds UserTesting data, whether its asset calls the API or normalizes what
        # another one fetched (tasks from session details): the kind is what the data is.
        "kinds": {"python", "usertesting"},
        "description": f"{table.description} {note}".strip(),
    }


def table_out(table: Table, note: str = "") -> AssetOut:
    """`table_asset_kwargs` as one output of a multi-asset."""
    return AssetOut(**table_asset_kwargs(table, note))


def table_metadata(table: Table) -> dict[str, Any]:
    """Where the table lives and its typed, described columns, as the UI shows them.

    No `partition_expr`: that is a convention of Dagster's own DB IO managers; ours partitions
    every table by test_id itself (lib/warehouse).
    """
    return {
        "dagster/table_name": f"{SCHEMA}.{table.name}",
        "dagster/column_schema": column_schema(table),
    }


def partition_test_id(context) -> TestId:
    """The run's test: where a partition key (any text the UI accepted) enters the asset code."""
    return TestId(context.partition_key)


def counts_text(**counts: int | bool) -> str:
    """Counts worth reading but not plotting (mostly 0, or a duplicate of a plotted one), as one text
    entry: `listing_pages=2, sessions_known_before=25`. docs/api-budget.md lists which are which."""
    return ", ".join(f"{name}={int(value)}" for name, value in counts.items())


def failures_metadata(failures: dict[str, str], limit: int = 20) -> dict[str, Any]:
    shown = dict(list(sorted(failures.items()))[:limit])
    return {"sessions_failed": len(failures), "failed_sessions": MetadataValue.json(shown)}

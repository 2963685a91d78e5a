"""`ut-dagster sync`: register tests as partitions and materialize them, one Dagster run each.

Runs go into the instance of DAGSTER_HOME (default $UT_DATA_DIR/dagster_home), in code location
`ut_dagster` (cli/code_location.py), so they show in `dagster dev` with the job's other runs: its Runs
tab, its partition views and the Overview timeline. A failed test does not stop the others: the command syncs every
test it was given, then ends with one line per failed test and exits non-zero.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import TextIO

from dagster import DagsterInstance, Definitions

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.usertesting_api.errors import UserTestingError
from ut_dagster.cli.code_location import runs_in_code_location
from ut_dagster.cli.dagster_home import DEFAULT_INSTANCE_YAML
from ut_dagster.cli.failures import Failure, RunLog, failure_of, failure_of_exception, with_evidence
from ut_dagster.cli.instance import cli_run_tags, dagster_instance
from ut_dagster.cli.progress_display import progress_display
from ut_dagster.environment import Settings

__all__ = ["DEFAULT_INSTANCE_YAML", "dagster_instance", "list_tests", "run_sync"]

RAW_SESSIONS_STEP = "usertesting__raw_sessions"


def run_sync(
    test_ids: Sequence[str],
    *,
    full: bool = False,
    reconcile: bool = False,
    rebuild: bool = False,
    videos: bool = False,
    retry_failed: bool = False,
    defs: Definitions | None = None,
    instance: DagsterInstance | None = None,
    run_config: dict | None = None,
    settings: Settings | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Materialize each test's partition; print a per-table summary; 0 when every run succeeded."""
    from dagster_usertesting.defs.jobs import (
        SYNC_JOB_NAME,
        SYNC_WITH_VIDEOS_JOB_NAME,
        sync_run_config,
    )
    from dagster_usertesting.defs.partitions import add_tests, test_partitions
    from dagster_usertesting.defs.titles import known_titles, title_tags
    from dagster_usertesting.lib.object_store import ObjectStoreResource

    out, err = out or sys.stdout, err or sys.stderr
    settings = settings or Settings.from_env()
    if defs is None:
        defs = sync_definitions(settings)
    instance = instance or dagster_instance(settings)
    registered = add_tests(instance, test_ids)
    job = defs.resolve_job_def(SYNC_WITH_VIDEOS_JOB_NAME if videos else SYNC_JOB_NAME)
    run_config = {
        # Progress and the summary below are what a terminal needs; every event is in the log file,
        # the instance and the UI.
        "loggers": {"console": {"config": {"log_level": "INFO" if verbose else "CRITICAL"}}},
        **(
            run_config
            or sync_run_config(
                full=full, reconcile=reconcile, rebuild=rebuild, videos=videos, retry_failed=retry_failed
            )
        ),
    }
    log = RunLog(settings.data_dir / "logs", "sync")
    titles = known_titles(
        ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url)
    )
    failures: list[Failure] = []
    runs: list[tuple[TestId, str]] = []
    for test_id in registered:
        print(f"Syncing test {test_id} ...", file=out, flush=True)
        try:
            with progress_display(out), runs_in_code_location(instance):
                result = job.execute_in_process(
                    instance=instance,
                    # Dagster hands this very object to the IO managers: a plain str for the drivers.
                    partition_key=str(test_id),
                    run_config=run_config,
                    raise_on_error=False,
                    tags={**cli_run_tags(), **title_tags(titles, test_id)},
                )
        except Exception as exc:  # a run that could not even start (bad run config, storage error)
            import traceback

            log.add_exception(test_id, traceback.format_exc())
            failures.append(failure_of_exception(test_id, exc))
            print(f"  failed to start: {exc}", file=out, flush=True)
            continue
        runs.append((test_id, result.run_id))
        _print_summary(result, out)
        if result.success:
            print(f"  run {result.run_id}: success", file=out, flush=True)
            continue
        failure = failure_of(test_id, result)
        if _never_listed(failure, test_id, defs, settings):
            # A test whose very first listing is a 404 (a typo, no access) must not stay a partition
            # that every schedule tick and sensor would try again.
            instance.delete_dynamic_partition(test_partitions.name, test_id)
            failure = dataclasses.replace(failure, note="It was not registered.")
        failures.append(failure)
        print(f"  run {result.run_id}: failure", file=out, flush=True)
    if failures:
        failures = with_evidence(failures, synced=len(runs) - sum(f.run_id is not None for f in failures))
        # Written only when needed (from the instance, which keeps every event of every run).
        for test_id, run_id in runs:
            log.add_run(instance, test_id, run_id)
        for failure in failures:
            print(failure.line(), file=err)
        print(
            f"{len(failures)} of {len(test_ids)} tests failed. Details and tracebacks: {log.path}"
            + ("" if verbose else " (or run again with --verbose)"),
            file=err,
            flush=True,
        )
    return 1 if failures else 0


def _never_listed(failure: Failure, test_id: TestId, defs: Definitions, settings: Settings) -> bool:
    if failure.step != RAW_SESSIONS_STEP or failure.error_class != "UserTestingNotFoundError":
        return False
    from dagster_usertesting.lib.landing import Landing

    listing = Landing(_object_store(defs, settings).store()).read_listing(test_id)
    return listing.total_count is None and not listing.sessions


def _object_store(defs: Definitions, settings: Settings):
    from dagster_usertesting.lib.object_store import ObjectStoreResource

    configured = (defs.resources or {}).get("object_store")
    if isinstance(configured, ObjectStoreResource):
        return configured
    return ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url)


def _print_summary(result: object, out: TextIO) -> None:
    for event in result.get_asset_materialization_events():  # type: ignore[attr-defined]
        materialization = event.materialization
        meta = materialization.metadata
        # The test's rows (what this sync is about); dagster/row_count counts every test's.
        rows = meta.get("dagster/partition_row_count", meta.get("dagster/row_count"))
        requests = meta.get("api_requests")
        print(
            f"  {materialization.asset_key.to_user_string():34} rows={_value(rows):>6}"
            + (f"  api_requests={_value(requests)}" if requests is not None else ""),
            file=out,
        )


def list_tests(settings: Settings) -> int:
    from dagster_usertesting.defs.resources import usertesting_resource

    configured = usertesting_resource(settings)
    # Outside a run, EnvVar settings are resolved by initializing the resource explicitly.
    with configured.process_config_and_initialize_cm() as resource:
        try:
            for test in resource.get_client().list_workspace_tests():
                # Only STUDYV2 tests have results in the v2/v3 API that the sync uses.
                syncable = str(test.get("type") or "").upper() == "STUDYV2"
                print(
                    f"{test.get('uuid')}  {'syncable' if syncable else 'classic ':8}  "
                    f"{test.get('productType') or '':18}  {test.get('title') or ''}"
                )
        except UserTestingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


def _value(entry: object) -> object:
    return getattr(entry, "value", entry) if entry is not None else "-"


def sync_definitions(settings: Settings) -> Definitions:
    """The sync alone, as the code location's defs/usertesting/defs.yaml builds it from these settings
    (its YAML sets no attribute but settings). Not through the defs folder: dg's component tree
    reads every folder's defs.yaml and imports its component, dbt's included (seconds per command)."""
    from dagster_usertesting.defs.definitions import build_usertesting_definitions

    return build_usertesting_definitions(settings)


def refresh_test_list(settings: Settings) -> bool:
    """Materialize `usertesting/tests` (a handful of v1 requests) in the CLI's instance."""
    from dagster_usertesting.defs.jobs import tests_refresh_job

    with runs_in_code_location(dagster_instance(settings)) as instance:
        result = (
            sync_definitions(settings)
            .resolve_job_def(tests_refresh_job.name)
            .execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
        )
    return result.success

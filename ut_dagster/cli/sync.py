"""Running syncs outside the UI: register partitions and materialize them in the Dagster instance.

Runs go into the instance of DAGSTER_HOME (default $UT_DATA_DIR/dagster_home), so they show in
`dagster dev` like any other run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster import DagsterInstance, Definitions

from ut_dagster.environment import Settings
from ut_dagster.lib.usertesting_api.errors import UserTestingError

# API steps of different runs queue for one slot, so parallel runs never compete for the budget.
DEFAULT_INSTANCE_YAML = """\
concurrency:
  pools:
    default_limit: 1
"""


def dagster_instance(settings: Settings) -> DagsterInstance:
    if not os.environ.get("DAGSTER_HOME"):
        home = settings.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text(DEFAULT_INSTANCE_YAML)
        os.environ["DAGSTER_HOME"] = str(home)
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return DagsterInstance.get()


def run_sync(
    test_ids: list[str],
    *,
    full: bool = False,
    videos: bool = False,
    defs: Definitions | None = None,
    instance: DagsterInstance | None = None,
    run_config: dict | None = None,
) -> int:
    """Materialize each test's partition; print a per-table summary; 0 when every run succeeded."""
    from ut_dagster.defs.usertesting.jobs import (
        SYNC_JOB_NAME,
        SYNC_WITH_VIDEOS_JOB_NAME,
        full_sync_run_config,
    )
    from ut_dagster.defs.usertesting.partitions import add_tests

    if defs is None:
        from ut_dagster.definitions import defs
    instance = instance or dagster_instance(Settings.from_env())
    add_tests(instance, test_ids)
    job = defs.resolve_job_def(SYNC_WITH_VIDEOS_JOB_NAME if videos else SYNC_JOB_NAME)
    run_config = {
        # The summary below is what a terminal needs; every event is in the instance and the UI.
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        **(run_config or (full_sync_run_config(videos=videos) if full else {})),
    }
    failed = 0
    for test_id in test_ids:
        print(f"Syncing test {test_id} ...", flush=True)
        result = job.execute_in_process(
            instance=instance, partition_key=test_id, run_config=run_config, raise_on_error=False
        )
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            meta = materialization.metadata
            rows = meta.get("dagster/row_count")
            requests = meta.get("api_requests")
            print(
                f"  {materialization.asset_key.to_user_string():34} rows={_value(rows):>6}"
                + (f"  api_requests={_value(requests)}" if requests is not None else "")
            )
        if not result.success:
            failed += 1
            print(f"  FAILED: {_failure(result)}", file=sys.stderr)
        print(f"  run {result.run_id}: {'success' if result.success else 'failure'}", flush=True)
    return 1 if failed else 0


def list_tests() -> int:
    from ut_dagster.lib.usertesting_api.resource import UserTestingResource

    configured = UserTestingResource.from_env(rate_limit_store=Settings.from_env().rate_limit_store)
    # Outside a run, EnvVar settings are resolved by initializing the resource explicitly.
    with configured.process_config_and_initialize_cm() as resource:
        try:
            for study in resource.get_client().list_workspace_tests():
                # Only STUDYV2 tests have results in the v2/v3 API that the sync uses.
                syncable = str(study.get("type") or "").upper() == "STUDYV2"
                print(
                    f"{study.get('uuid')}  {'syncable' if syncable else 'classic ':8}  "
                    f"{study.get('productType') or '':18}  {study.get('title') or ''}"
                )
        except UserTestingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


def _value(entry: object) -> object:
    return getattr(entry, "value", entry) if entry is not None else "-"


def _failure(result: object) -> str:
    for event in result.all_events:  # type: ignore[attr-defined]
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            cause = error.cause or error
            return f"{event.step_key}: {cause.message.strip()}"
    return "see the run's logs in the Dagster UI"

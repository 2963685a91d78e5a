"""The UserTesting sync on its own: assets, checks, jobs, schedules, sensors and their resources.

`UserTestingSyncComponent` (component.py) builds its definitions here, from settings and a
translator; so does a caller that holds settings of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster import AssetSpec, DagsterInvalidDefinitionError, Definitions, map_asset_specs

from dagster_usertesting.defs.assets import (
    API_POOL,
    SYNC_STEPS,
    TESTS_STEPS,
    VIDEO_STEPS,
    ExecuteStep,
    keys_of,
    run_step,
)
from dagster_usertesting.defs.assets.api_budget import api_budget, api_budget_job, api_budget_schedule
from dagster_usertesting.defs.checks import (
    archived_videos_match_checksums,
    every_test_synced_recently,
    fresh_in_warehouse,
    no_test_keeps_failing,
)
from dagster_usertesting.defs.jobs import build_sync_jobs, freshness_job, tests_refresh_job, verify_videos_job
from dagster_usertesting.defs.partitions import build_register_tests_sensor
from dagster_usertesting.defs.resources import sync_resources
from dagster_usertesting.defs.run_recovery import build_run_recovery_sensor
from dagster_usertesting.defs.schedules import (
    build_sync_schedule,
    freshness_schedule,
    tests_daily_schedule,
)
from dagster_usertesting.defs.sensors import build_discovery_sensor, build_new_sessions_sensor
from dagster_usertesting.lib.schema import ALL_TABLES
from dagster_usertesting.settings import SyncSettings
from dagster_usertesting.translator import UserTestingTableProps, UserTestingTranslator


def build_usertesting_definitions(
    settings: SyncSettings,
    resources: dict[str, Any] | None = None,
    *,
    translator: UserTestingTranslator | None = None,
    videos: bool = True,
    tests: Sequence[str] = (),
    pool: str = API_POOL,
    execute: ExecuteStep = run_step,
) -> Definitions:
    """Everything the sync defines. `videos=False` leaves out the video assets, their jobs and check;
    `tests` are registered as partitions by the sensor `usertesting_register_tests`; every asset
    that calls the API queues in `pool` and runs its step through `execute` (factory.py)."""
    translate = _spec_translation(translator or UserTestingTranslator(), settings)
    sync_job, sync_with_videos_job = build_sync_jobs(settings)
    steps = SYNC_STEPS + TESTS_STEPS + (VIDEO_STEPS if videos else ())
    assets = map_asset_specs(translate, [step.build(pool, execute) for step in steps])
    sensors = [
        build_new_sessions_sensor(settings.sensors),
        build_discovery_sensor(settings.sensors),
        build_run_recovery_sensor(settings.sensors.interval_seconds),
    ]
    if tests:
        sensors.append(build_register_tests_sensor(tests))
    return Definitions(
        assets=[*assets, api_budget],
        asset_checks=[
            *([archived_videos_match_checksums] if videos else []),
            every_test_synced_recently,
            no_test_keeps_failing,
            fresh_in_warehouse,
        ],
        jobs=[
            sync_job,
            *([sync_with_videos_job, verify_videos_job] if videos else []),
            freshness_job,
            tests_refresh_job,
            api_budget_job,
        ],
        schedules=[
            build_sync_schedule(settings.sync_cron),
            freshness_schedule,
            tests_daily_schedule,
            api_budget_schedule,
        ],
        sensors=sensors,
        resources={**sync_resources(settings), **(resources or {})},
    )


def _spec_translation(translator: UserTestingTranslator, settings: SyncSettings):
    file_tables = set(keys_of(VIDEO_STEPS))

    def translate(spec: AssetSpec) -> AssetSpec:
        table = ALL_TABLES.get(spec.key.path[-1])
        if table is None:
            return spec
        stores_files = spec.key in file_tables
        props = UserTestingTableProps(
            table, settings.warehouse, settings.object_store_kind if stores_files else None, spec
        )
        translated = translator.get_asset_spec(props)
        if translated.key != spec.key:
            raise DagsterInvalidDefinitionError(
                f"The translator gave table {table.name} the key {translated.key.to_user_string()}: "
                f"a UserTesting asset's key is its warehouse address ({spec.key.to_user_string()}), "
                "which the IO managers and dbt sources rely on. Change its group, tags or description "
                "instead."
            )
        return translated

    return translate

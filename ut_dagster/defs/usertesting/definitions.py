"""The UserTesting sync on its own: assets, checks, jobs, schedules, sensors and their resources.

`ut-dagster sync` runs its jobs from here: the research marts (dbt) are not needed to sync, and
importing dagster-dbt with dbt-core costs seconds per process. `defs` is what the code location
loads from this folder (defs.yaml).
"""

from __future__ import annotations

from typing import Any

from dagster import Definitions, definitions, map_asset_specs

from ut_dagster.defs.usertesting.assets import SYNC_ASSETS, TESTS_ASSETS, VIDEO_ASSETS
from ut_dagster.defs.usertesting.assets.api_budget import api_budget, api_budget_job, api_budget_schedule
from ut_dagster.defs.usertesting.checks import (
    archived_videos_match_checksums,
    every_test_synced_recently,
    fresh_in_warehouse,
    no_test_keeps_failing,
)
from ut_dagster.defs.usertesting.jobs import (
    freshness_job,
    tests_refresh_job,
    usertesting_sync_job,
    usertesting_sync_with_videos_job,
    verify_videos_job,
)
from ut_dagster.defs.usertesting.resources import sync_resources
from ut_dagster.defs.usertesting.run_recovery import build_run_recovery_sensor
from ut_dagster.defs.usertesting.schedules import (
    build_sync_schedule,
    freshness_schedule,
    tests_daily_schedule,
)
from ut_dagster.defs.usertesting.sensors import build_discovery_sensor, build_new_sessions_sensor
from ut_dagster.environment import Settings, current_settings


def build_usertesting_definitions(settings: Settings, resources: dict[str, Any] | None = None) -> Definitions:
    def stored_in(*kinds: str):
        return lambda spec: spec.merge_attributes(kinds=set(kinds))

    tables = map_asset_specs(stored_in(settings.warehouse), [*SYNC_ASSETS, *TESTS_ASSETS])
    videos = map_asset_specs(stored_in(settings.warehouse, settings.object_store_kind), VIDEO_ASSETS)
    return Definitions(
        assets=[*tables, *videos, api_budget],
        asset_checks=[
            archived_videos_match_checksums,
            every_test_synced_recently,
            no_test_keeps_failing,
            fresh_in_warehouse,
        ],
        jobs=[
            usertesting_sync_job,
            usertesting_sync_with_videos_job,
            verify_videos_job,
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
        sensors=[
            build_new_sessions_sensor(settings.sensors),
            build_discovery_sensor(settings.sensors),
            build_run_recovery_sensor(settings.sensors.interval_seconds),
        ],
        resources={**sync_resources(settings), **(resources or {})},
    )


@definitions
def defs() -> Definitions:
    return build_usertesting_definitions(current_settings())

"""Assembles the code location; nothing is decided here (see environment.py)."""

from __future__ import annotations

from typing import Any

from dagster import Definitions

from ut_dagster.defs.research_marts.alerts import build_research_alert_checks
from ut_dagster.defs.research_marts.dbt import research_marts_automation_sensor, usertesting_dbt_assets
from ut_dagster.defs.usertesting.assets import SYNC_ASSETS, TESTS_ASSETS, VIDEO_ASSETS, VIDEO_CHECKS
from ut_dagster.defs.usertesting.freshness import build_freshness_check, build_freshness_schedule
from ut_dagster.defs.usertesting.jobs import (
    usertesting_sync_job,
    usertesting_sync_with_videos_job,
    verify_videos_job,
)
from ut_dagster.defs.usertesting.schedules import build_sync_schedule
from ut_dagster.defs.usertesting.sensors import new_sessions_sensor
from ut_dagster.defs.usertesting.tests_refresh import build_tests_refresh_schedule, tests_refresh_job
from ut_dagster.environment import Settings, build_resources


def build_definitions(settings: Settings, resources: dict[str, Any] | None = None) -> Definitions:
    freshness_check = build_freshness_check(settings.freshness_hours)
    return Definitions(
        assets=[*SYNC_ASSETS, *VIDEO_ASSETS, *TESTS_ASSETS, usertesting_dbt_assets],
        asset_checks=[*VIDEO_CHECKS, freshness_check, *build_research_alert_checks()],
        jobs=[usertesting_sync_job, usertesting_sync_with_videos_job, verify_videos_job, tests_refresh_job],
        schedules=[
            build_sync_schedule(settings.sync_cron),
            build_freshness_schedule(freshness_check),
            build_tests_refresh_schedule(),
        ],
        sensors=[new_sessions_sensor, research_marts_automation_sensor],
        resources={**build_resources(settings), **(resources or {})},
    )


defs = build_definitions(Settings.from_env())

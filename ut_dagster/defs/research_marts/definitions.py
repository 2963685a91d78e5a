"""The research marts on their own: the dbt assets, the research alerts, their job and sensor."""

from __future__ import annotations

from typing import Any

from dagster import Definitions, definitions, map_asset_specs

from ut_dagster.defs.research_marts.alerts import build_research_alert_checks
from ut_dagster.defs.research_marts.automation import MARTS_FRESHNESS, marts_automation_condition
from ut_dagster.defs.research_marts.project import (
    research_marts_automation_sensor,
    research_marts_job,
    usertesting_dbt_assets,
)
from ut_dagster.defs.research_marts.resources import marts_resources
from ut_dagster.environment import Settings, current_settings


def build_research_marts_definitions(
    settings: Settings, resources: dict[str, Any] | None = None
) -> Definitions:
    condition = marts_automation_condition(settings.marts_min_interval_minutes)
    marts = map_asset_specs(
        lambda spec: spec.replace_attributes(
            automation_condition=condition, freshness_policy=MARTS_FRESHNESS
        ),
        [usertesting_dbt_assets],
    )
    return Definitions(
        assets=marts,
        asset_checks=build_research_alert_checks(settings.alert_thresholds),
        jobs=[research_marts_job],
        sensors=[research_marts_automation_sensor],
        resources={**marts_resources(settings), **(resources or {})},
    )


@definitions
def defs() -> Definitions:
    return build_research_marts_definitions(current_settings())

"""The research marts' alerts and resources; the dbt assets, their job and sensor are the component
of defs.yaml (component.py)."""

from __future__ import annotations

from typing import Any

from dagster import Definitions, definitions

from ut_dagster.defs.research_marts.alerts import build_research_alert_checks
from ut_dagster.defs.research_marts.resources import marts_resources
from ut_dagster.environment import Settings, current_settings


def build_research_alerts(settings: Settings, resources: dict[str, Any] | None = None) -> Definitions:
    return Definitions(
        asset_checks=build_research_alert_checks(settings.alert_thresholds),
        resources={**marts_resources(settings), **(resources or {})},
    )


@definitions
def defs() -> Definitions:
    return build_research_alerts(current_settings())

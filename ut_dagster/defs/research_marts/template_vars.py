"""What defs.yaml takes from this installation and the settings."""

from __future__ import annotations

from dagster import AutomationCondition, FreshnessPolicy, template_var

from ut_dagster.defs.research_marts import automation
from ut_dagster.defs.research_marts.project import dbt_project_dir
from ut_dagster.environment import current_settings


@template_var
def dbt_project() -> str:
    """The checkout's dbt project, else the wheel's parsed copy."""
    return str(dbt_project_dir())


@template_var
def marts_automation_condition() -> AutomationCondition:
    """Eager after syncs, at most once per UT_MARTS_MIN_INTERVAL_MINUTES."""
    return automation.marts_automation_condition(current_settings().marts_min_interval_minutes)


@template_var
def marts_freshness_policy() -> FreshnessPolicy:
    return automation.MARTS_FRESHNESS

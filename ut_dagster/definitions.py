"""The code location: each source under defs/ declares its own definitions (dg's defs folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import Definitions, load_from_defs_folder

from ut_dagster.environment import Settings, settings_in_use

_PROJECT = Path(__file__).resolve().parent


def build_definitions(settings: Settings, resources: dict[str, Any] | None = None) -> Definitions:
    """The code location's definitions built with `settings` instead of the environment's, and
    `resources` in place of those of the same key (tests, the CLI's demo)."""
    with settings_in_use(settings):
        loaded = load_from_defs_folder(path_within_project=_PROJECT)
    if not resources:
        return loaded
    return Definitions(
        assets=loaded.assets,
        asset_checks=loaded.asset_checks,
        jobs=loaded.jobs,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        resources={**(loaded.resources or {}), **resources},
    )


defs = load_from_defs_folder(path_within_project=_PROJECT)

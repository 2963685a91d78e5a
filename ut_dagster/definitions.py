"""Assembles the code location; nothing is decided here (see environment.py)."""

from __future__ import annotations

from typing import Any

from dagster import Definitions

from ut_dagster.defs.research_marts.definitions import build_research_marts_definitions
from ut_dagster.defs.usertesting.definitions import build_usertesting_definitions
from ut_dagster.environment import Settings


def build_definitions(settings: Settings, resources: dict[str, Any] | None = None) -> Definitions:
    """The UserTesting sync and the research marts built from what it writes (`resources` override)."""
    return Definitions.merge(
        build_usertesting_definitions(settings, resources),
        build_research_marts_definitions(settings, resources),
    )


defs = build_definitions(Settings.from_env())

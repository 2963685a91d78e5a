"""The code location: each source under defs/ declares its own definitions (dg's defs folder)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dagster import BetaWarning, ComponentTree, Definitions

from dagster_usertesting.settings import settings_in_use
from ut_dagster.environment import Settings

_PROJECT = Path(__file__).resolve().parent
_DEFS = _PROJECT / "defs"


def load_defs_folder() -> Definitions:
    """Every source folder under defs/, each as `dagster.load_from_defs_folder` loads it.

    Not `load_from_defs_folder` itself: it also adds, for the UI's catalogue, every component type
    the installed dg plugins offer, and so imports them all (dagster-snowflake's snowflake.core,
    dagster-aws's boto3) in every process that loads the code location, a run worker per sync
    included: 6.1 s to load instead of 3.2 s here (`python -c "import ut_dagster.definitions"`).
    """
    tree = ComponentTree.for_project(_PROJECT)
    sources = sorted(p.name for p in _DEFS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    with warnings.catch_warnings():
        # Dagster's own component loading links each asset to its defs.yaml (and dagster-dbt each
        # model to its file) through classes it marks beta, warning twice per asset on every load:
        # ~350 lines of `make demo`; its automation sensor passes two beta parameters of its own.
        # The links stay; the warnings are about Dagster's code, not ours.
        warnings.filterwarnings(
            "ignore",
            r"(Class `(CodeReferencesMetadataValue|LocalFileCodeReference)`"
            r"|Parameter `(use_user_code_server|owners)` of initializer)",
            BetaWarning,
        )
        return Definitions.merge(*(tree.build_defs_at_path(Path(name)) for name in sources))


def build_definitions(settings: Settings, resources: dict[str, Any] | None = None) -> Definitions:
    """The code location's definitions built with `settings` instead of the environment's, and
    `resources` in place of those of the same key (tests, the CLI's demo)."""
    with settings_in_use(settings):
        loaded = load_defs_folder()
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


defs = load_defs_folder()

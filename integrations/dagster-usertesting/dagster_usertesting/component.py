"""`UserTestingSyncComponent`: the UserTesting sync of a `dg` project, configured in its defs.yaml.

    type: dagster_usertesting.UserTestingSyncComponent
    attributes:
      warehouse: duckdb
      duckdb_path: data/warehouse.duckdb
      tests: ["3fa85f64-5717-4562-b3fc-2c963f66afa6"]

Each attribute is the value of the `UT_*` setting named beside it (README: Settings), with its
default when left out. The credential and the API's pacing (`USERTESTING_*`) are read from the
process environment, never from YAML: every process sharing a credential must agree on them, and a
secret written into YAML would be in the repository and in the UI's run configuration.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Component,
    ComponentLoadContext,
    Definitions,
    Model,
    Resolvable,
    scaffold_with,
)
from pydantic import Field

from dagster_usertesting.defs.assets import API_POOL, SyncStep
from dagster_usertesting.defs.definitions import build_usertesting_definitions
from dagster_usertesting.lib.usertesting_api.resource import SECRET_SETTINGS
from dagster_usertesting.scaffolder import UserTestingSyncScaffolder
from dagster_usertesting.settings import SettingsError, SyncSettings, settings_override, sync_variables
from dagster_usertesting.translator import UserTestingTableProps, UserTestingTranslator


class UserTestingTranslation(Model):
    """Attributes given to every UserTesting table's asset (its key is its warehouse address, fixed)."""

    group_name: str | None = Field(default=None, description="Asset group instead of `usertesting`.")
    owners: Sequence[str] | None = Field(default=None, description="Owners: emails or `team:name`.")
    tags: Mapping[str, str] | None = Field(default=None, description="Tags added to every asset.")


@scaffold_with(UserTestingSyncScaffolder)
class UserTestingSyncComponent(Component, Resolvable, Model):
    """UserTesting research results (sessions, demographics, task answers, transcripts, clips and,
    optionally, videos), synced per test into DuckDB or Snowflake under the 10-requests-a-minute limit."""

    data_dir: str | None = Field(
        default=None, description="UT_DATA_DIR: local state and defaults [.ut_data]."
    )
    warehouse: str | None = Field(default=None, description="UT_WAREHOUSE: duckdb or snowflake [duckdb].")
    duckdb_path: str | None = Field(default=None, description="UT_DUCKDB_PATH [<data_dir>/warehouse.duckdb].")
    object_store: str | None = Field(
        default=None, description="UT_OBJECT_STORE: a folder or s3://bucket/prefix [<data_dir>/objects]."
    )
    videos: bool = Field(default=True, description="Define the video assets, their jobs and check.")
    tests: Sequence[str] = Field(default=(), description="Test IDs to register as partitions.")
    workspaces: Sequence[str] = Field(
        default=(),
        description="UT_DISCOVER_WORKSPACES: workspaces whose tests the discovery sensor registers.",
    )
    title_pattern: str | None = Field(
        default=None, description="UT_DISCOVER_TITLE_PATTERN: only tests whose title matches this regex."
    )
    # Numbers and switches too: a template such as "{{ env('UT_SENSOR_BATCH', '') }}" renders "5" as 5.
    settings: Mapping[str, str | int | float | bool | None] = Field(
        default_factory=dict,
        description="Any other UT_* setting by its variable name (README: Settings); empty means default.",
    )
    translation: UserTestingTranslation | None = Field(
        default=None, description="Group, owners and tags of every UserTesting asset."
    )
    pool: str = Field(
        default=API_POOL,
        description="Concurrency pool of every asset that calls the API; limit it to 1 in the instance "
        "(docs/deployment.md), so runs sharing the credential take turns.",
    )

    @property
    def translator(self) -> UserTestingTranslator:
        """Override to give the tables' assets other attributes in Python."""
        return UserTestingTranslator()

    def get_asset_spec(self, props: UserTestingTableProps) -> AssetSpec:
        """The spec of one table's asset: the translator's, then `translation`'s attributes."""
        spec = self.translator.get_asset_spec(props)
        if self.translation is None:
            return spec
        attributes = self.translation
        spec = spec.merge_attributes(owners=list(attributes.owners or ()), tags=dict(attributes.tags or {}))
        if attributes.group_name:
            spec = spec.replace_attributes(group_name=attributes.group_name)
        return spec

    def execute(self, context: AssetExecutionContext, step: SyncStep) -> Iterator[Any]:
        """Runs one step of the sync (`step.name`, e.g. raw_sessions) for the test `step.partition_key`.
        Override to wrap every step: run it once and yield all of its events, which Dagster needs."""
        yield from step.run()

    def sync_settings(self, environ: Mapping[str, str] | None = None) -> SyncSettings:
        """These attributes over the `USERTESTING_*` variables of the environment (and DAGSTER_HOME)."""
        env = os.environ if environ is None else environ
        values = {k: v for k, v in env.items() if k.startswith("USERTESTING_") or k == "DAGSTER_HOME"}
        for name in self.settings:
            if name in SECRET_SETTINGS:
                raise SettingsError(f"{name} is a secret: set it in the environment, not in YAML.")
            if not name.startswith("UT_"):
                raise SettingsError(
                    f"settings: {name} is not a UT_* setting (USERTESTING_* are read from the environment)."
                )
            if name not in sync_variables():
                # A misspelt setting would otherwise be its default, silently.
                close = difflib.get_close_matches(name, sorted(sync_variables()), n=1)
                hint = f" Did you mean {close[0]}?" if close else ""
                raise SettingsError(f"settings: {name} is not a setting of the UserTesting sync.{hint}")
        values.update({k: _text(v) for k, v in self.settings.items() if _text(v)})
        named = {
            "UT_DATA_DIR": self.data_dir,
            "UT_WAREHOUSE": self.warehouse,
            "UT_DUCKDB_PATH": self.duckdb_path,
            "UT_OBJECT_STORE": self.object_store,
            "UT_DISCOVER_WORKSPACES": ",".join(self.workspaces),
            "UT_DISCOVER_TITLE_PATTERN": self.title_pattern,
        }
        values.update({k: v for k, v in named.items() if v})
        return SyncSettings.from_env(values)

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        # A caller building definitions with settings of its own (tests, ut-dagster's CLI) wins.
        settings = settings_override() or self.sync_settings()
        return build_usertesting_definitions(
            settings,
            translator=self,
            videos=self.videos,
            tests=self.tests,
            pool=self.pool,
            execute=self.execute,
        )


def _text(value: str | int | float | bool | None) -> str:
    """A setting as the text its UT_* variable would hold; '' for unset (0 and false are values)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()

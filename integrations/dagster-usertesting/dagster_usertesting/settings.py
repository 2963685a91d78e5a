"""The one place that decides where data goes: local (DuckDB + a folder) or production (Snowflake + S3).

Every `UT_*` and `USERTESTING_*` variable of the sync is parsed here into plain settings (the README's
settings table lists them; `UserTestingSyncComponent` takes the same values as YAML attributes), so
switching is configuration alone, and a bad value fails at once, naming the variable, before any
request. Nothing here builds a resource: defs/resources.py builds them from these settings, so this
module sits below `defs/` and needs nothing from it. Secrets stay
`EnvVar` references resolved at run time; `SNOWFLAKE_*` is read where the Snowflake resources are built
(lib/warehouse/snowflake_config.py), all of it as `EnvVar`. Assets see only resources.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import DagsterInvalidDefinitionError, EnvVar, ScheduleDefinition

from dagster_usertesting.lib.usertesting_api.resource import SECRET_SETTINGS, UserTestingResource

WAREHOUSES = ("duckdb", "snowflake")


class SettingsError(ValueError):
    """A setting is wrong: the message names the variable and what is expected."""


@dataclass(frozen=True)
class UserTestingSettings:
    """The API's credential and pacing (USERTESTING_*), by `UserTestingResource` field, only those set.

    Secrets are `EnvVar` references: the resource resolves them from the process environment when it
    starts, so their values never reach run config, the UI, logs or metadata. A caller that holds a
    value itself (the demo's sandbox credential) passes it as is.
    """

    fields: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> UserTestingSettings:
        fields: dict[str, str] = {}
        for name in UserTestingResource.model_fields:
            variable = "USERTESTING_" + name.upper()
            if env.get(variable):
                # Text as given: the resource converts numbers, and refuses bad ones, naming the field.
                fields[name] = EnvVar(variable) if variable in SECRET_SETTINGS else env[variable]
        return cls(fields)

    @property
    def has_credential(self) -> bool:
        """A ready-made token, or a client ID with its secret."""
        fields = self.fields
        return bool(fields.get("access_token") or (fields.get("client_id") and fields.get("client_secret")))


@dataclass(frozen=True)
class SensorSettings:
    """How the sensors spend the API budget (UT_* variables; defaults in brackets)."""

    running: bool = False  # UT_SENSOR_RUNNING: the new-sessions sensor starts running on deploy [false]
    interval_seconds: int = 60  # UT_SENSOR_INTERVAL_SECONDS: time between ticks [60]
    tick_seconds: float = 40.0  # UT_SENSOR_TICK_SECONDS: most a tick spends (Dagster stops at 60) [40]
    batch: int = 10  # UT_SENSOR_BATCH: tests probed per tick at most [10]
    active_minutes: float = (
        5.0  # UT_SENSOR_ACTIVE_MINUTES: probe interval of tests receiving sessions now [5]
    )
    dormant_hours: float = 10.0  # UT_SENSOR_DORMANT_HOURS: probe interval of dormant tests [10]
    activity_days: float = 7.0  # UT_SENSOR_ACTIVITY_DAYS: dormant = no sessions within this [7]
    # UT_PROBE_BUDGET_CEILING: share of the credential's budget checks never push recent use above [0.9]
    probe_budget_ceiling: float = 0.9
    discover_workspaces: tuple[str, ...] = ()  # UT_DISCOVER_WORKSPACES: names or UUIDs, comma-separated
    discover_title_pattern: str | None = None  # UT_DISCOVER_TITLE_PATTERN: regex searched in titles
    discover_hours: float = 24.0  # UT_DISCOVER_HOURS: how often workspaces are listed again [24]
    # UT_TEST_MAX_FAILED_RUNS: failed sync runs in a row after which a test is no longer synced [14]
    max_failed_runs: int = 14

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SensorSettings:
        def number(name: str, default: float) -> float:
            value = env.get(name) or default
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{name} must be a number; got {value!r}.") from None

        workspaces = env.get("UT_DISCOVER_WORKSPACES") or ""
        running = (env.get("UT_SENSOR_RUNNING") or "false").strip().lower()
        if running not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"UT_SENSOR_RUNNING must be true or false; got {running!r}.")
        return cls(
            running=running in ("true", "1", "yes"),
            interval_seconds=int(number("UT_SENSOR_INTERVAL_SECONDS", cls.interval_seconds)),
            tick_seconds=number("UT_SENSOR_TICK_SECONDS", cls.tick_seconds),
            batch=int(number("UT_SENSOR_BATCH", cls.batch)),
            active_minutes=number("UT_SENSOR_ACTIVE_MINUTES", cls.active_minutes),
            dormant_hours=number("UT_SENSOR_DORMANT_HOURS", cls.dormant_hours),
            activity_days=number("UT_SENSOR_ACTIVITY_DAYS", cls.activity_days),
            probe_budget_ceiling=number("UT_PROBE_BUDGET_CEILING", cls.probe_budget_ceiling),
            discover_workspaces=tuple(w.strip() for w in workspaces.split(",") if w.strip()),
            discover_title_pattern=env.get("UT_DISCOVER_TITLE_PATTERN") or None,
            discover_hours=number("UT_DISCOVER_HOURS", cls.discover_hours),
            max_failed_runs=int(number("UT_TEST_MAX_FAILED_RUNS", cls.max_failed_runs)),
        )


@dataclass(frozen=True)
class SyncSettings:
    data_dir: Path
    warehouse: str
    duckdb_path: Path
    object_store: str
    rate_limit_store: str
    sync_cron: str
    freshness_hours: float
    s3_endpoint_url: str | None = None
    reconcile_hours: float = 24.0
    # Deletions and failing sessions (lib/sync/deletions.py, lib/sync/retries.py).
    delete_max_share: float = 0.10
    delete_max_sessions: int = 50
    delete_confirm_hours: float = 6.0
    session_retry_minutes: float = 30.0
    session_max_failures: int = 8
    # How long a DuckDB write waits for another process (a notebook, a BI tool) to release the file.
    duckdb_lock_timeout_s: float = 60.0
    dagster_home_dir: Path | None = None
    sensors: SensorSettings = SensorSettings()
    # Most a daemon-launched sync run may take before run monitoring fails it (a hang is bounded).
    run_max_hours: float = 24.0
    # How long a listed session may be missing from the warehouse before its test counts as late.
    freshness_lag_minutes: float = 120.0
    clips: bool = True  # UT_CLIPS: highlight reels, clips, clip transcripts
    usertesting: UserTestingSettings = UserTestingSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SyncSettings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("UT_DATA_DIR") or ".ut_data").expanduser().resolve()
        warehouse = (env.get("UT_WAREHOUSE") or "duckdb").strip().lower()
        if warehouse not in WAREHOUSES:
            raise SettingsError(f"UT_WAREHOUSE must be one of {', '.join(WAREHOUSES)}; got {warehouse!r}.")
        store = env.get("UT_OBJECT_STORE") or str(data_dir / "objects")
        if not store.startswith("s3://"):
            store = str(Path(store).expanduser().resolve())
        home = env.get("DAGSTER_HOME")
        return cls(
            data_dir=data_dir,
            warehouse=warehouse,
            duckdb_path=Path(env.get("UT_DUCKDB_PATH") or data_dir / "warehouse.duckdb")
            .expanduser()
            .resolve(),
            object_store=store,
            # Beside the Dagster instance's data, so runs, the sensor and the CLI share one budget.
            rate_limit_store=env.get("USERTESTING_RATE_LIMIT_STORE")
            or str(data_dir / "usertesting-rate-limit.sqlite"),
            sync_cron=_cron(env.get("UT_SYNC_CRON") or "0 2 * * *"),
            freshness_hours=_hours(env, "UT_FRESHNESS_HOURS", 26),
            s3_endpoint_url=env.get("UT_S3_ENDPOINT_URL") or None,
            reconcile_hours=_hours(env, "UT_RECONCILE_HOURS", 24),
            delete_max_share=_share(env, "UT_DELETE_MAX_SHARE", 0.10),
            delete_max_sessions=_count(env, "UT_DELETE_MAX_SESSIONS", 50),
            delete_confirm_hours=_hours(env, "UT_DELETE_CONFIRM_HOURS", 6),
            session_retry_minutes=_hours(env, "UT_SESSION_RETRY_MINUTES", 30, "minutes"),
            session_max_failures=_count(env, "UT_SESSION_MAX_FAILURES", 8),
            duckdb_lock_timeout_s=_seconds(env, "UT_DUCKDB_LOCK_TIMEOUT_SECONDS", 60),
            dagster_home_dir=Path(home).expanduser().resolve() if home else None,
            sensors=SensorSettings.from_env(env),
            run_max_hours=run_max_hours(env),
            freshness_lag_minutes=_non_negative(env, "UT_FRESHNESS_LAG_MINUTES", 120, "minutes"),
            clips=_switch(env, "UT_CLIPS", True),
            usertesting=UserTestingSettings.from_env(env),
        )

    @property
    def object_store_kind(self) -> str:
        """How the UI labels where the landing area and videos live."""
        return "s3" if self.object_store.startswith("s3://") else "file"

    @property
    def dagster_home(self) -> Path:
        return self.dagster_home_dir or self.data_dir / "dagster_home"

    def check_writable(self) -> None:
        """Fail at once when a local folder the sync writes to cannot be written (before any request)."""
        places = [
            ("UT_DATA_DIR", self.data_dir),
            ("DAGSTER_HOME", self.dagster_home),
            ("UT_DUCKDB_PATH", self.duckdb_path.parent) if self.warehouse == "duckdb" else None,
            None if self.object_store.startswith("s3://") else ("UT_OBJECT_STORE", Path(self.object_store)),
        ]
        for variable, folder in filter(None, places):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as exc:
                raise SettingsError(
                    f"{variable}: cannot write to {folder} ({exc.strerror or exc}); "
                    f"point {variable} at a folder you can write to."
                ) from None


def run_max_hours(environ: Mapping[str, str] | None = None) -> float:
    """UT_RUN_MAX_HOURS [24]: the `dagster/max_runtime` of sync runs, read where the jobs are defined.

    A first sync of a 10,000-session test needs ~50 h of the 10 requests a minute; a run cut off at
    the limit fails, and the next one asks only for what was not landed, so a big first sync takes
    a few runs, with other tests' syncs between them. A hung run holds the API pool that long.
    """
    return _hours(os.environ if environ is None else environ, "UT_RUN_MAX_HOURS", 24)


def _cron(value: str) -> str:
    # Validated the way the schedule will use it, so a bad cron fails here naming the variable.
    try:
        ScheduleDefinition(name="ut_sync_cron_check", cron_schedule=value, job_name="unused")
    except DagsterInvalidDefinitionError:
        raise SettingsError(
            f"UT_SYNC_CRON must be a cron expression with 5 fields, such as '0 2 * * *'; got {value!r}."
        ) from None
    return value


def _hours(env: Mapping[str, str], name: str, default: float, unit: str = "hours") -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return float(default)
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not hours > 0 or hours == float("inf"):
        raise SettingsError(f"{name} must be a positive number of {unit}; got {raw!r}.")
    return hours


def _non_negative(env: Mapping[str, str], name: str, default: float, unit: str) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"{name} must be zero or a positive number of {unit}; got {raw!r}.")
    return value


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise SettingsError(f"{name} must be a fraction between 0 and 1, such as 0.1; got {raw!r}.")
    return share


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name} must be a whole number, 1 or more; got {raw!r}.")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return float(default)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SettingsError(f"{name} must be a number of seconds, 0 or more; got {raw!r}.")
    return seconds


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise SettingsError(f"{name} must be true or false; got {value!r}.")
    return value in ("true", "1", "yes", "on")


class _ReadsRecorded(dict[str, str]):
    """An empty environment that remembers which variables were asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)


@functools.cache
def sync_variables() -> frozenset[str]:
    """Every UT_* and USERTESTING_* variable `SyncSettings.from_env` reads, found by asking it (so
    the list cannot drift from the parser): what the component's `settings` may name."""
    recorder = _ReadsRecorded()
    SyncSettings.from_env(recorder)
    return frozenset(name for name in recorder.read if name.startswith(("UT_", "USERTESTING_")))


# The component reads its attributes; tests and ut-dagster's CLI build the same definitions from
# settings of their own. dg's defs folder builds each component with no arguments, so they reach it here.
_SETTINGS_IN_USE: ContextVar[SyncSettings | None] = ContextVar(
    "dagster_usertesting_settings_in_use", default=None
)


def settings_override() -> SyncSettings | None:
    """The settings of an enclosing `settings_in_use`, if any."""
    return _SETTINGS_IN_USE.get()


@contextmanager
def settings_in_use(settings: SyncSettings) -> Iterator[SyncSettings]:
    """Definitions built inside use `settings` instead of the environment's."""
    token = _SETTINGS_IN_USE.set(settings)
    try:
        yield settings
    finally:
        _SETTINGS_IN_USE.reset(token)

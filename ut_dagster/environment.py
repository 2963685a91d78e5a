"""The research marts' own settings (UT_ALERT_*, UT_MARTS_*), beside the sync's.

The sync's settings (where data goes, the API credential and pacing, the sensors) are the
integration's (`dagster_usertesting.settings`): ut-dagster's defs/usertesting/defs.yaml passes them
to its component. What only this project's dbt marts and research alerts use is parsed here, as
plainly, so a bad value fails at load naming the variable. Nothing here imports `defs/`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from dagster_usertesting.settings import SettingsError, SyncSettings, settings_override


@dataclass(frozen=True)
class AlertThresholds:
    """When the research alerts warn (UT_ALERT_* variables; defaults in brackets)."""

    max_task_skip_rate: float = 0.30  # UT_ALERT_MAX_TASK_SKIP_RATE: share of a task's participants [0.3]
    min_nps: float = 0.0  # UT_ALERT_MIN_NPS: Net Promoter Score floor [0]
    max_qx_score_drop: float = 5.0  # UT_ALERT_MAX_QX_SCORE_DROP: QXscore points lost between syncs [5]
    min_sample_size: int = 1  # UT_ALERT_MIN_SAMPLE_SIZE: sessions or answers before a rate counts [1]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlertThresholds:
        defaults = cls()

        def read(name: str, default: float, cast: Callable[[str], float]) -> Any:
            raw = (env.get(name) or "").strip()
            if not raw:
                return default
            try:
                return cast(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number; got {raw!r}") from None

        return cls(
            max_task_skip_rate=read("UT_ALERT_MAX_TASK_SKIP_RATE", defaults.max_task_skip_rate, float),
            min_nps=read("UT_ALERT_MIN_NPS", defaults.min_nps, float),
            max_qx_score_drop=read("UT_ALERT_MAX_QX_SCORE_DROP", defaults.max_qx_score_drop, float),
            min_sample_size=read("UT_ALERT_MIN_SAMPLE_SIZE", defaults.min_sample_size, int),
        )


def interval_cron(minutes: int) -> str:
    """The cron of ticks `minutes` apart, aligned to midnight UTC (so every day has the same ticks)."""
    if 0 < minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if minutes >= 60 and minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        return f"0 */{minutes // 60} * * *"
    raise ValueError(f"{minutes} minutes do not divide an hour or a day evenly")


def marts_min_interval_minutes(environ: Mapping[str, str] | None = None) -> int:
    """UT_MARTS_MIN_INTERVAL_MINUTES [15]: the research marts rebuild at most once per this many
    minutes (0: after every sync)."""
    env = os.environ if environ is None else environ
    raw = (env.get("UT_MARTS_MIN_INTERVAL_MINUTES") or "").strip() or "15"
    try:
        minutes = int(raw)
        if minutes:
            interval_cron(minutes)
    except ValueError as exc:
        raise SettingsError(
            f"UT_MARTS_MIN_INTERVAL_MINUTES must be 0 (rebuild the marts after every sync) or minutes that "
            f"divide an hour or a day evenly (5, 10, 15, 20, 30, 60, ..., 1440); got {raw!r}."
        ) from exc
    return minutes


@dataclass(frozen=True)
class Settings(SyncSettings):
    """The sync's settings and the research marts' (what the CLI and tests build definitions with)."""

    alert_thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    # The research marts rebuild at most once per this many minutes (0: after every sync).
    marts_min_interval_minutes: int = 15

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        sync = SyncSettings.from_env(env)
        return cls(
            **{f.name: getattr(sync, f.name) for f in fields(SyncSettings)},
            alert_thresholds=AlertThresholds.from_env(env),
            marts_min_interval_minutes=marts_min_interval_minutes(env),
        )


def current_settings() -> Settings:
    """The settings the definitions are being built with: those of `settings_in_use`, else the environment's."""
    in_use = settings_override()
    return in_use if isinstance(in_use, Settings) else Settings.from_env()

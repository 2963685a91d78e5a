"""How fresh each registered test is in the warehouse: a pure judgement over observations.

A test is fresh when its listing was synced within UT_FRESHNESS_HOURS and its newest listed session
is in the warehouse's `sessions` table, or was listed less than UT_FRESHNESS_LAG_MINUTES ago (the
sync fetching it has had its time). Only the newest listed session counts: an older one that keeps
failing is `no_session_quarantined`'s concern and must not keep the test "late" for ever.

The lag a user sees is how far behind the warehouse is: the time since the last listing sync when
the newest listed session is in the warehouse, else the time since that session was listed.

`fresh_in_warehouse` (checks.py) judges one test per partition; `every_test_synced_recently` and
`usertesting/tests` judge them all with the same functions, reading the same observations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from dagster_usertesting.defs.probe_schedule import FailureStreak
from dagster_usertesting.lib.schema import RAW_SESSIONS, SCHEMA, SESSIONS
from dagster_usertesting.lib.warehouse import WarehouseClient

RAW_SESSIONS_KEY = AssetKey([SCHEMA, RAW_SESSIONS.name])

FRESH, STALE, LATE, NEVER, FAILING, STOPPED = "fresh", "stale", "late", "never synced", "failing", "stopped"


@dataclass(frozen=True)
class FreshnessLimits:
    max_age_hours: float = 26.0  # UT_FRESHNESS_HOURS: the listing synced at least this often
    lag_minutes: float = 120.0  # UT_FRESHNESS_LAG_MINUTES: a listed session in the warehouse within this


@dataclass(frozen=True)
class TestObservation:
    """What the instance and the warehouse say of one test."""

    __test__ = False  # not a pytest class

    test_id: str
    last_sync: datetime | None = None  # the listing's newest materialization
    listed: int = 0  # rows in raw_sessions
    held: int = 0  # rows in sessions
    newest_session: str | None = None  # the listed session that finished last
    newest_listed_at: datetime | None = None  # when it was listed (its raw_sessions extracted_at)
    newest_held: bool = False  # whether `sessions` holds it


@dataclass(frozen=True)
class Judgement:
    status: str  # FRESH, STALE, LATE, NEVER
    reason: str  # "" when fresh
    lag: timedelta | None  # None before the first sync

    @property
    def fresh(self) -> bool:
        return self.status == FRESH


def judge(seen: TestObservation, now: datetime, limits: FreshnessLimits) -> Judgement:
    if seen.last_sync is None:
        return Judgement(NEVER, "never synced", None)
    since_sync = now - seen.last_sync
    waiting = seen.newest_session is not None and not seen.newest_held
    listed_at = seen.newest_listed_at or seen.last_sync
    lag = now - listed_at if waiting else since_sync
    if since_sync > timedelta(hours=limits.max_age_hours):
        return Judgement(
            STALE,
            f"listing last synced {_hours(since_sync)} ago (limit {limits.max_age_hours:g} h)",
            lag,
        )
    if waiting and now - listed_at >= timedelta(minutes=limits.lag_minutes):
        return Judgement(
            LATE,
            f"newest listed session {seen.newest_session} not in the warehouse {_hours(now - listed_at)} "
            f"after it was listed (limit {limits.lag_minutes:g} min)",
            lag,
        )
    return Judgement(FRESH, "", lag)


def status_of(judgement: Judgement, streak: FailureStreak, max_failed_runs: int) -> tuple[str, str]:
    """The one status a test table shows: failing runs first, then freshness."""
    if streak.failures >= max_failed_runs:
        return STOPPED, f"{streak.failures} failed runs in a row; not synced until a run succeeds"
    if streak.failures:
        return (
            FAILING,
            f"{streak.failures} failed run(s) in a row; last error: {streak.last_error or 'unknown'}",
        )
    return judgement.status, judgement.reason


def observe(
    instance: DagsterInstance, warehouse: WarehouseClient, test_ids: Iterable[str]
) -> dict[str, TestObservation]:
    """One instance query per test (its listing's last sync) and two warehouse reads for them all."""
    ids = sorted(set(test_ids))
    if not ids:
        return {}
    listed = warehouse.read(
        RAW_SESSIONS, ids, columns=("test_id", "session_id", "finish_time", "start_time", "extracted_at")
    )
    held = warehouse.read(SESSIONS, ids, columns=("test_id", "session_id"))
    held_by_test = held.groupby("test_id")["session_id"].agg(set).to_dict() if len(held) else {}
    for column in ("finish_time", "start_time", "extracted_at"):
        listed[column] = pd.to_datetime(listed[column], utc=True)
    # A session without a finish time sorts by when it started, then by when it was listed.
    listed["finished"] = listed["finish_time"].fillna(listed["start_time"]).fillna(listed["extracted_at"])
    seen = {}
    for test_id in ids:
        rows = listed[listed["test_id"] == test_id]
        sessions = held_by_test.get(test_id, set())
        newest = rows.sort_values(["finished", "session_id"]).iloc[-1] if len(rows) else None
        seen[test_id] = TestObservation(
            test_id,
            last_sync=_last_sync(instance, test_id),
            listed=len(rows),
            held=len(sessions),
            newest_session=None if newest is None else str(newest["session_id"]),
            newest_listed_at=None if newest is None else _moment(newest["extracted_at"]),
            newest_held=newest is not None and newest["session_id"] in sessions,
        )
    return seen


def _last_sync(instance: DagsterInstance, test_id: str) -> datetime | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=RAW_SESSIONS_KEY, asset_partitions=[test_id]), limit=1
    ).records
    return datetime.fromtimestamp(records[0].timestamp, UTC) if records else None


def _moment(value: object) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"

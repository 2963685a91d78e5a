"""Requests per credential, endpoint and UTC day, counted in the store the rate limiter shares.

Every process that uses a credential (runs, sensor ticks, the test-list refresh, the CLI) sends
through ApiTransport, which counts each request here as it is answered, so the daily totals cover
them all, whether their step succeeded or not. Counting costs one small write per request (an
upsert in the limiter's SQLite file, or one Redis round trip) and never a request to UserTesting.

The store keys counts by the limiter's name for the credential (`store_key`: a truncated SHA-256),
so the credential itself is never stored; the same name labels the credential in the UI.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from dagster_usertesting.lib.usertesting_api.rate_limit import is_redis_url, redis_client, redis_unavailable

log = logging.getLogger("dagster_usertesting.lib.usertesting_api")

# Redis keeps a day's counts this long; the SQLite file keeps them (a few rows a day) for good.
REDIS_RETENTION = timedelta(days=400)
SQLITE_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DailyUsage:
    """One credential's requests on one UTC day."""

    credential: str  # the store's name for the credential, never the credential
    day: date
    requests: dict[str, int] = field(default_factory=dict)  # endpoint -> requests answered or failed
    rate_limited: int = 0  # of those, answered HTTP 429

    @property
    def total(self) -> int:
        return sum(self.requests.values())


class RequestCounter(Protocol):
    def record(self, endpoint: str, status: int | None) -> None:
        """Count one request sent to `endpoint` (`status` None: no answer, e.g. a timeout)."""

    def daily(self, since: date) -> list[DailyUsage]:
        """Every credential's counts from `since` (UTC) on, oldest first."""

    def close(self) -> None: ...


def request_counter(store: str | None, name: str) -> RequestCounter:
    """The counter beside the limiter's window for credential `name` (see rate_limit.store_key)."""
    if is_redis_url(store):
        return RedisRequestCounter(str(store), name)
    if store:
        return SqliteRequestCounter(Path(store), name)
    return MemoryRequestCounter(name)


def utc_today() -> date:
    return datetime.now(UTC).date()


class MemoryRequestCounter:
    """No shared store configured: this process's requests only."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])

    def record(self, endpoint: str, status: int | None) -> None:
        with self._lock:
            counts = self._counts[(utc_today(), endpoint)]
            counts[0] += 1
            counts[1] += status == 429

    def daily(self, since: date) -> list[DailyUsage]:
        with self._lock:
            rows = [(self._name, day, ep, n, limited) for (day, ep), (n, limited) in self._counts.items()]
        return _days(rows, since)

    def close(self) -> None:
        pass


_CREATE = """
create table if not exists api_request_counts (
    credential text not null,
    day text not null,
    endpoint text not null,
    requests integer not null,
    rate_limited integer not null,
    primary key (credential, day, endpoint)
)
"""
_UPSERT = """
insert into api_request_counts (credential, day, endpoint, requests, rate_limited)
values (?, ?, ?, 1, ?)
on conflict (credential, day, endpoint)
do update set requests = requests + 1, rate_limited = rate_limited + excluded.rate_limited
"""


class SqliteRequestCounter:
    """A table in the limiter's SQLite file; SQLite's own locking makes each upsert atomic across
    processes (the limiter's file lock is not needed: an upsert is one statement)."""

    def __init__(self, path: Path, name: str) -> None:
        self._path, self._name = path, name
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self._path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            # The limiter put the file in WAL mode; NORMAL makes a commit a WAL append, not an fsync.
            connection.execute("pragma synchronous=NORMAL")
            connection.execute(_CREATE)
            self._connection = connection
        return self._connection

    def record(self, endpoint: str, status: int | None) -> None:
        with self._lock:
            self._connect().execute(
                _UPSERT, (self._name, utc_today().isoformat(), endpoint, int(status == 429))
            )

    def daily(self, since: date) -> list[DailyUsage]:
        with self._lock:
            rows = self._connect().execute(
                "select credential, day, endpoint, requests, rate_limited from api_request_counts "
                "where day >= ?",
                (since.isoformat(),),
            )
            return _days(((c, date.fromisoformat(d), e, n, r) for c, d, e, n, r in rows), since)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


# One command (so one request and one reply on the wire): a pipeline of three commands took ~44 ms
# a call against a Redis-protocol server on 127.0.0.1 (replies written apart meet delayed ACKs),
# this script ~0.3 ms, as the limiter's own script does (bench/request_counting.py).
_REDIS_COUNT_LUA = """
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], '429:' .. ARGV[1], 1) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class RedisRequestCounter:
    """One hash per credential and day: field `<endpoint>` counts requests, `429:<endpoint>` 429s."""

    PREFIX_429 = "429:"

    def __init__(self, url: str, name: str) -> None:
        self._name = name
        self._redis = redis_client(url)
        self._script = self._redis.register_script(_REDIS_COUNT_LUA)

    def _key(self, day: date) -> str:
        return f"{self._name}:requests:{day.isoformat()}"

    def record(self, endpoint: str, status: int | None) -> None:
        import redis

        retention = int(REDIS_RETENTION.total_seconds())
        try:
            self._script(keys=[self._key(utc_today())], args=[endpoint, int(status == 429), retention])
        except redis.RedisError as exc:
            raise redis_unavailable(exc) from exc

    def daily(self, since: date) -> list[DailyUsage]:
        import redis

        rows = []
        try:
            # Every credential that shares this store: `<name>:requests:<day>` keys.
            for raw_key in self._redis.scan_iter(match="*:requests:*", count=500):
                key = raw_key.decode()
                credential, _, day_text = key.rpartition(":requests:")
                try:
                    day = date.fromisoformat(day_text)
                except ValueError:
                    continue
                if day < since:
                    continue
                fields = {k.decode(): int(v) for k, v in self._redis.hgetall(key).items()}
                for endpoint, n in fields.items():
                    if not endpoint.startswith(self.PREFIX_429):
                        rows.append((credential, day, endpoint, n, fields.get(self.PREFIX_429 + endpoint, 0)))
        except redis.RedisError as exc:
            raise redis_unavailable(exc) from exc
        return _days(rows, since)

    def close(self) -> None:
        self._redis.close()


def _days(rows: Iterable[tuple[str, date, str, int, int]], since: date) -> list[DailyUsage]:
    grouped: dict[tuple[date, str], tuple[dict[str, int], list[int]]] = {}
    for credential, day, endpoint, n, limited in rows:
        if day < since:
            continue
        requests, rate_limited = grouped.setdefault((day, credential), ({}, [0]))
        requests[endpoint] = requests.get(endpoint, 0) + n
        rate_limited[0] += limited
    return [
        DailyUsage(credential, day, dict(sorted(requests.items())), limited[0])
        for (day, credential), (requests, limited) in sorted(grouped.items())
    ]

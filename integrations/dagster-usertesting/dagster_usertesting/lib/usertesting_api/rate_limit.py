"""A request budget shared by every process that uses the same UserTesting credential.

UserTesting allows 10 requests per minute per credential. Runs, the sensor and the CLI are separate
processes, so the budget lives outside any one of them: a sliding-window log in a SQLite file
(pyrate-limiter's bucket, file-locked, so processes on one machine agree) or in Redis (for several
hosts; our own Lua script, see `_RedisWindow`). The client takes a token from the window *before*
it sends, so the server never has to refuse us. When the server's rate headers say less budget is
left than we believe (another host, a 429), the local budget is pulled down to match.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

from pyrate_limiter import AbstractBucket, InMemoryBucket, Limiter, Rate, RateItem, SQLiteBucket

from dagster_usertesting.lib.usertesting_api.errors import BudgetUnavailableError, UserTestingUnavailableError

# Requests are timestamped when the budget is taken, not when they reach the server; network jitter
# can move two requests a window apart to within one window on the server's clock. A small margin on
# the window (1 s of a 60 s window, at least 0.5 s) keeps us under the limit anyway.
WINDOW_MARGIN_FRACTION = 1 / 60
MIN_WINDOW_MARGIN_SECONDS = 0.5
# Holding the store's lock takes one insert; a process that cannot get it for this long is stuck.
LOCK_TIMEOUT_SECONDS = 30.0
# Asking again exactly when a slot frees up can land on the same millisecond and fail once more.
RETRY_BUFFER_SECONDS = 0.05


class SharedRateLimiter:
    """Blocking acquire of one request's budget, shared through `store` (SQLite path or redis:// URL)."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        store: str | None,
        credential_key: str,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ) -> None:
        if limit < 1:
            raise ValueError("USERTESTING_REQUESTS_PER_MINUTE must be at least 1.")
        self.limit = limit
        self.window_seconds = window_seconds
        margin = max(window_seconds * WINDOW_MARGIN_FRACTION, MIN_WINDOW_MARGIN_SECONDS)
        interval_ms = int((window_seconds + margin) * 1000)
        name = store_key(credential_key)
        self._window: _Window
        if is_redis_url(store):
            self._window = _RedisWindow(limit, interval_ms, str(store), name)
        else:
            self._window = _BucketWindow(limit, interval_ms, store, name, lock_timeout)

    def acquire(self, max_wait: float | None = None) -> float:
        """Wait until a request may be sent; return the seconds spent waiting.

        With `max_wait`, raise BudgetUnavailableError instead of waiting longer than that; nothing is
        spent then. A wait that is known to be too long fails at once rather than after `max_wait`.
        """
        started = time.monotonic()
        while True:
            free_in = self._window.take()
            if free_in is None:
                return time.monotonic() - started
            pause = free_in + RETRY_BUFFER_SECONDS
            if max_wait is not None and pause > max_wait - (time.monotonic() - started):
                raise BudgetUnavailableError(
                    f"The UserTesting request budget ({self.limit} requests per {self.window_seconds:g} s "
                    f"for this credential) is not available within {max_wait:g} s (it frees up in about "
                    f"{free_in:.1f} s); nothing was sent. Other runs are using the budget: this check will "
                    "try again later."
                )
            # Another process may take the slot first: the next take says how long then.
            time.sleep(pause)

    def exhaust(self) -> None:
        """Take whatever budget is left in this window, so every process sharing it waits.

        Called on a 429: the server says the window is spent.
        """
        self.match_remaining(0)

    def match_remaining(self, remaining: int) -> None:
        """The server says `remaining` requests are left in its window: take what we have beyond that.

        Budget we believe we have but the server does not (another host on the same credential, a
        limit lower than configured) would otherwise be spent on 429s. Waits for the store's lock: a
        busy lock must not make this a silent no-op.
        """
        self._window.fill(max(0, remaining))

    def used_in_window(self) -> int:
        """Requests granted in the current window, by every process sharing the store (0..limit).

        Read-only: takes and leaves nothing. The sensor sizes its probes by it (lib/probe_policy.py).
        """
        return self._window.used()

    def close(self) -> None:
        self._window.close()


def store_key(credential_key: str) -> str:
    """The name a credential's state has in the shared store: a hash, so the credential is never stored."""
    return "ut-" + hashlib.sha256(credential_key.encode()).hexdigest()[:16]


def is_redis_url(store: str | None) -> bool:
    return bool(store) and str(store).startswith(("redis://", "rediss://"))


def redis_client(url: str):  # type: ignore[no-untyped-def]  # redis is an optional extra
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise RuntimeError(
            "USERTESTING_RATE_LIMIT_STORE points at Redis but the redis package is missing: "
            "install ut-dagster[redis]."
        ) from exc
    return redis.Redis.from_url(url)


def redis_unavailable(exc: Exception) -> UserTestingUnavailableError:
    # The URL may hold a password: name the setting and the kind of failure, never the value.
    return UserTestingUnavailableError(
        f"The shared rate-limit store (Redis) failed: {type(exc).__name__}. Nothing was sent; check that "
        "the server in USERTESTING_RATE_LIMIT_STORE is up and reachable."
    )


class _Window(Protocol):
    def take(self) -> float | None:
        """Take one request's budget: None when taken, else the seconds until some frees up (0: unknown)."""

    def fill(self, remaining: int) -> None:
        """Take budget until at most `remaining` is left in the current window."""

    def used(self) -> int:
        """Budget taken in the current window (read-only)."""

    def close(self) -> None: ...


# One credential's window in Redis: a sorted set of grants scored in ms of the Redis server's clock.
# The clock is read here, inside the script, so that reading it, counting the window and adding the
# grant are one atomic step. Read by the client in a round trip of its own, a client delayed before
# its insert (descheduled, a slow link) stamped its grant in the past and did not count the grants
# made meanwhile: 12 grants in a window of 10 with 6 processes. Scores and key are those
# pyrate-limiter's RedisBucket used, so processes of the previous version count the same grants.
_REDIS_WINDOW_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local key, limit, interval = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local remaining, member = tonumber(ARGV[3]), ARGV[4]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- A grant stamped exactly one interval ago still counts, as in pyrate-limiter.
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now - interval))
local used = redis.call('ZCARD', key)
if remaining < 0 then
    if used < limit then
        redis.call('ZADD', key, now, member)
        redis.call('PEXPIRE', key, interval + 1000)
        return -1
    end
    -- The grant whose expiry makes room for one more (oldest first).
    local blocking = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
    return math.max(0, tonumber(blocking[2]) + interval - now + 1)
end
for index = used + 1, limit - remaining do
    redis.call('ZADD', key, now, member .. ':' .. index)
end
redis.call('PEXPIRE', key, interval + 1000)
return 0
"""


# Read-only: the grants of the current window, counted on the Redis server's clock as the script above.
_REDIS_USED_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
"""


class _RedisWindow:
    """The window in Redis, for processes on several hosts; every operation is one atomic script."""

    def __init__(self, limit: int, interval_ms: int, url: str, name: str) -> None:
        self._limit, self._interval_ms, self._key = limit, interval_ms, name
        self._redis = redis_client(url)
        self._script = self._redis.register_script(_REDIS_WINDOW_LUA)
        self._used_script = self._redis.register_script(_REDIS_USED_LUA)

    def used(self) -> int:
        import redis

        try:
            return min(self._limit, int(self._used_script(keys=[self._key], args=[self._interval_ms])))
        except redis.RedisError as exc:
            raise redis_unavailable(exc) from exc

    def take(self) -> float | None:
        wait_ms = self._run(-1)
        return None if wait_ms < 0 else wait_ms / 1000

    def fill(self, remaining: int) -> None:
        self._run(remaining)

    def _run(self, remaining: int) -> int:
        import redis

        member = uuid.uuid4().hex  # unique, so two grants in one millisecond are two members
        try:
            return int(
                self._script(keys=[self._key], args=[self._limit, self._interval_ms, remaining, member])
            )
        except redis.RedisError as exc:
            raise redis_unavailable(exc) from exc

    def close(self) -> None:
        self._redis.close()


class _BucketWindow:
    """The window in a pyrate-limiter bucket: a SQLite file shared on one machine, or this process.

    Every put happens under the store's file lock and is stamped inside it (`_SQLiteBucketNow`), and
    the count has no upper time bound, so a process delayed before its put still counts every grant
    made meanwhile: the race the Redis window had does not exist here.
    """

    def __init__(
        self, limit: int, interval_ms: int, store: str | None, name: str, lock_timeout: float
    ) -> None:
        self._limit, self._interval_ms, self._name = limit, interval_ms, name
        self._lock_timeout = lock_timeout
        self._bucket = _bucket(Rate(limit, interval_ms), store, name)
        # The limiter contributes its locks and the background leak that prunes old grants.
        self._limiter = Limiter(self._bucket)

    def take(self) -> float | None:
        with self._store_lock():  # a busy lock is not an empty budget: wait for it
            if self._bucket.put(RateItem(self._name, self._bucket.now())):
                return None
            # The put just refused recorded how long until an item fits; 0 when unknown, which
            # leaves the caller to ask again shortly.
            wait = self._bucket.waiting(RateItem(self._name, self._bucket.now()))
            return max(0.0, wait / 1000) if isinstance(wait, int | float) else 0.0

    def fill(self, remaining: int) -> None:
        with self._store_lock():
            now = self._bucket.now()
            for _ in range(self._limit - self._used(now) - remaining):
                if not self._bucket.put(RateItem(self._name, now)):
                    return

    def used(self) -> int:
        with self._store_lock():
            return self._used(self._bucket.now())

    def _used(self, now: int) -> int:
        """Budget taken in the current window (items newer than one interval), at most `limit`.

        `peek(0)` is the newest grant, so the window's grants are the first ones: bisect for where
        they end. A peek is a query under the store's lock; every response's rate headers ask this.
        """
        low, high = 0, self._limit  # the first `low` are in the window; none from `high` on
        while low < high:
            middle = (low + high) // 2
            item = self._bucket.peek(middle)
            if item is None or item.timestamp < now - self._interval_ms:
                high = middle
            else:
                low = middle + 1
        return low

    @contextmanager
    def _store_lock(self) -> Iterator[None]:
        # The limiter's own locks (a file lock for SQLite, then a thread lock), taken in its order.
        locks = self._limiter.lock if isinstance(self._limiter.lock, tuple) else (self._limiter.lock,)
        held = []
        try:
            for lock in locks:
                acquired = False
                with suppress(TimeoutError):
                    acquired = lock.acquire(timeout=self._lock_timeout)
                if not acquired:
                    raise UserTestingUnavailableError(
                        f"The shared rate-limit store stayed locked for {self._lock_timeout:g} s. Another "
                        "process may hang while holding it: check USERTESTING_RATE_LIMIT_STORE."
                    )
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()

    def close(self) -> None:
        self._limiter.close()


class _SQLiteBucketNow(SQLiteBucket):
    """Stamps each put with the time it really happens.

    pyrate-limiter's blocking wait advances an item's timestamp by the sleep it planned; a loaded
    machine oversleeps, so requests were logged earlier than sent and other processes let theirs
    through too soon.
    """

    def put(self, item: RateItem) -> bool:
        item.timestamp = self.now()
        return super().put(item)


def _bucket(rate: Rate, store: str | None, name: str) -> AbstractBucket:
    if store:
        Path(store).parent.mkdir(parents=True, exist_ok=True)
        return _SQLiteBucketNow.init_from_file(
            [rate], db_path=str(store), table=name.replace("-", "_"), use_file_lock=True
        )
    return InMemoryBucket([rate])

"""A request budget shared by every process that uses the same UserTesting credential.

UserTesting allows 10 requests per minute per credential. Runs, the sensor and the CLI are separate
processes, so the budget lives outside any one of them: a pyrate-limiter bucket in a SQLite file
(file-locked, so processes on one machine agree) or in Redis (for several hosts). The client takes a
token from the bucket *before* it sends, so the server never has to refuse us. When the server's
rate headers say less budget is left than we believe (another host, a 429), the local budget is
pulled down to match.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pyrate_limiter import AbstractBucket, InMemoryBucket, Limiter, Rate, RateItem, SQLiteBucket

from ut_dagster.lib.usertesting_api.errors import BudgetUnavailableError, UserTestingUnavailableError

# Requests are timestamped when the budget is taken, not when they reach the server; network jitter
# can move two requests a window apart to within one window on the server's clock. A small margin on
# the window (1 s of a 60 s window, at least 0.5 s) keeps us under the limit anyway.
WINDOW_MARGIN_FRACTION = 1 / 60
MIN_WINDOW_MARGIN_SECONDS = 0.5
# Holding the store's lock takes one insert; a process that cannot get it for this long is stuck.
LOCK_TIMEOUT_SECONDS = 30.0


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
        self._lock_timeout = lock_timeout
        # One bucket per credential, named by a hash so the credential itself is never stored.
        self._name = "ut-" + hashlib.sha256(credential_key.encode()).hexdigest()[:16]
        margin = max(window_seconds * WINDOW_MARGIN_FRACTION, MIN_WINDOW_MARGIN_SECONDS)
        self._interval_ms = int((window_seconds + margin) * 1000)
        self._bucket = _bucket(Rate(limit, self._interval_ms), store, self._name)
        self._limiter = Limiter(self._bucket)

    def acquire(self, max_wait: float | None = None) -> float:
        """Wait until a request may be sent; return the seconds spent waiting.

        With `max_wait`, raise BudgetUnavailableError instead of waiting longer than that; nothing is
        spent then. A wait that is known to be too long fails at once rather than after `max_wait`.
        """
        started = time.monotonic()
        if max_wait is None:
            self._limiter.try_acquire(self._name, blocking=True)
            return time.monotonic() - started
        with self._store_lock():  # a busy lock is not an empty budget: wait for it
            if self._bucket.put(RateItem(self._name, self._bucket.now())):
                return time.monotonic() - started
            free_in = self._seconds_until_free()
        if free_in > max_wait or not self._limiter.try_acquire(
            self._name, blocking=True, timeout=max(0.0, max_wait - (time.monotonic() - started))
        ):
            raise BudgetUnavailableError(
                f"The UserTesting request budget ({self.limit} requests per {self.window_seconds:g} s for "
                f"this credential) is not available within {max_wait:g} s"
                + (f" (it frees up in about {free_in:.0f} s)" if free_in > max_wait else "")
                + "; nothing was sent. Other runs are using the budget: this check will try again later."
            )
        return time.monotonic() - started

    def _seconds_until_free(self) -> float:
        # The put just refused recorded how long until an item fits; 0 when unknown, which leaves the
        # bounded wait to find out.
        wait = self._bucket.waiting(RateItem(self._name, self._bucket.now()))
        return max(0.0, wait / 1000) if isinstance(wait, int | float) else 0.0

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
        with self._store_lock():
            now = self._bucket.now()
            excess = self.limit - self._used(now) - max(0, remaining)
            for _ in range(excess):
                if not self._bucket.put(RateItem(self._name, now)):
                    return

    def _used(self, now: int) -> int:
        """Budget taken in the current window (items newer than one interval), at most `limit`."""
        for index in range(self.limit):
            item = self._bucket.peek(index)
            if item is None or item.timestamp < now - self._interval_ms:
                return index
        return self.limit

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


def _redis_bucket(rate: Rate, url: str, name: str) -> AbstractBucket:
    try:
        import redis
        from pyrate_limiter import RedisBucket
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise RuntimeError(
            "USERTESTING_RATE_LIMIT_STORE points at Redis but the redis package is missing: "
            "install ut-dagster[redis]."
        ) from exc

    class ServerClockRedisBucket(RedisBucket):
        """Timestamps from the Redis server's clock, so hosts whose clocks differ share one window.

        With each host's own clock, a host 2 s ahead logs requests "in the future" that a host behind
        does not count: 20 of 10 requests were granted.
        """

        def now(self) -> int:
            seconds, micros = self.redis.time()
            return int(seconds) * 1000 + int(micros) // 1000

        def put(self, item: RateItem) -> bool:
            item.timestamp = self.now()
            return super().put(item)

    return ServerClockRedisBucket.init([rate], redis.Redis.from_url(url), name)


def _bucket(rate: Rate, store: str | None, name: str) -> AbstractBucket:
    if store and store.startswith(("redis://", "rediss://")):
        return _redis_bucket(rate, store, name)
    if store:
        Path(store).parent.mkdir(parents=True, exist_ok=True)
        return _SQLiteBucketNow.init_from_file(
            [rate], db_path=str(store), table=name.replace("-", "_"), use_file_lock=True
        )
    return InMemoryBucket([rate])

"""A request budget shared by every process that uses the same UserTesting credential.

UserTesting allows 10 requests per minute per credential. Runs, the sensor and the CLI are separate
processes, so the budget lives outside any one of them: a pyrate-limiter bucket in a SQLite file
(file-locked, so processes on one machine agree) or in Redis (for several hosts). The client takes a
token from the bucket *before* it sends, so the server never has to refuse us.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pyrate_limiter import AbstractBucket, Limiter, Rate, RateItem, SQLiteBucket

from ut_dagster.lib.usertesting_api.errors import BudgetUnavailableError

# Requests are timestamped when the budget is taken, not when they reach the server; network jitter
# can move two requests a window apart to within one window on the server's clock. A small margin on
# the window (1 s of a 60 s window, at least 0.5 s) keeps us under the limit anyway.
WINDOW_MARGIN_FRACTION = 1 / 60
MIN_WINDOW_MARGIN_SECONDS = 0.5


class SharedRateLimiter:
    """Blocking acquire of one request's budget, shared through `store` (SQLite path or redis:// URL)."""

    def __init__(self, limit: int, window_seconds: float, store: str | None, credential_key: str) -> None:
        if limit < 1:
            raise ValueError("USERTESTING_REQUESTS_PER_MINUTE must be at least 1.")
        self.limit = limit
        self.window_seconds = window_seconds
        # One bucket per credential, named by a hash so the credential itself is never stored.
        self._name = "ut-" + hashlib.sha256(credential_key.encode()).hexdigest()[:16]
        margin = max(window_seconds * WINDOW_MARGIN_FRACTION, MIN_WINDOW_MARGIN_SECONDS)
        rate = Rate(limit, int((window_seconds + margin) * 1000))
        self._bucket = _bucket(rate, store, self._name)
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
        if self._limiter.try_acquire(self._name, blocking=False):
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
        # The refused put recorded how long until an item fits; 0 when unknown (e.g. the store's lock
        # was busy), which leaves the bounded wait to find out.
        wait = self._bucket.waiting(RateItem(self._name, self._bucket.now()))
        return max(0.0, wait / 1000) if isinstance(wait, int | float) else 0.0

    def exhaust(self) -> None:
        """Take whatever budget is left in this window, so every process sharing it waits.

        Called when the server says the window is spent (a 429, or x-ratelimit-remaining that is
        lower than we believed, e.g. because another host uses the same credential).
        """
        self.consume(self.limit)

    def consume(self, count: int) -> None:
        """Take up to `count` units of budget without waiting (to stay in step with the server)."""
        for _ in range(max(0, count)):
            if not self._limiter.try_acquire(self._name, blocking=False):
                return

    def close(self) -> None:
        self._limiter.close()


def _bucket(rate: Rate, store: str | None, name: str) -> AbstractBucket:
    if store and store.startswith(("redis://", "rediss://")):
        try:
            import redis
            from pyrate_limiter import RedisBucket
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise RuntimeError(
                "USERTESTING_RATE_LIMIT_STORE points at Redis but the redis package is missing: "
                "install ut-dagster[redis]."
            ) from exc
        return RedisBucket.init([rate], redis.Redis.from_url(store), name)
    if store:
        Path(store).parent.mkdir(parents=True, exist_ok=True)
        return SQLiteBucket.init_from_file(
            [rate], db_path=str(store), table=name.replace("-", "_"), use_file_lock=True
        )
    from pyrate_limiter import InMemoryBucket

    return InMemoryBucket([rate])

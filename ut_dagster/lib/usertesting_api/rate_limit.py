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

from pyrate_limiter import AbstractBucket, Limiter, Rate, SQLiteBucket

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
        self._limiter = Limiter(_bucket(rate, store, self._name))

    def acquire(self) -> float:
        """Wait until a request may be sent; return the seconds spent waiting."""
        started = time.monotonic()
        self._limiter.try_acquire(self._name, blocking=True)
        return time.monotonic() - started

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

"""The API's rate limit: a fixed window per credential that opens at the credential's first request.

This is how @nestjs/throttler counts (the service is NestJS and its headers are throttler's): every
authenticated request counts, including the ones answered 429, so hammering keeps `remaining` at 0 but
does not extend the window. Requests refused with 401 never reach the throttler and cost nothing.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RateState:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset_seconds)),
        ]


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, credential: str, limit: int, window: float) -> RateState:
        now = time.monotonic()
        with self._lock:
            start, hits = self._windows.get(credential, (now, 0))
            if now >= start + window:
                start, hits = now, 0
            hits += 1
            self._windows[credential] = (start, hits)
        reset = max(0, math.ceil(start + window - now))
        return RateState(hits <= limit, limit, max(0, limit - hits), reset)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    @staticmethod
    def fresh(limit: int, window: float) -> RateState:
        """What an unidentified caller is shown: a full window (its request counts against nothing)."""
        return RateState(True, limit, limit, math.ceil(window))

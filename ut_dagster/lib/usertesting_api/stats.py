"""Counters of what a client spent, so assets can report their API cost as metadata."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RequestStats:
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    rate_limited_responses: int = 0
    retries: int = 0
    budget_wait_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, endpoint: str) -> None:
        with self._lock:
            self.requests_by_endpoint[endpoint] += 1

    def count_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited_responses += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def add_wait(self, seconds: float) -> None:
        with self._lock:
            self.budget_wait_seconds += seconds

    @property
    def total_requests(self) -> int:
        return sum(self.requests_by_endpoint.values())

    def snapshot(self) -> RequestStats:
        with self._lock:
            return RequestStats(
                Counter(self.requests_by_endpoint),
                self.rate_limited_responses,
                self.retries,
                self.budget_wait_seconds,
            )

    def since(self, earlier: RequestStats) -> RequestStats:
        """What was spent after `earlier` was taken (one asset's share of a shared client)."""
        now = self.snapshot()
        return RequestStats(
            now.requests_by_endpoint - earlier.requests_by_endpoint,
            now.rate_limited_responses - earlier.rate_limited_responses,
            now.retries - earlier.retries,
            now.budget_wait_seconds - earlier.budget_wait_seconds,
        )

    def as_metadata(self) -> dict[str, float | int]:
        """Numbers only, one entry per endpoint, so the Dagster UI can plot each over time."""
        return {
            "api_requests": self.total_requests,
            **{f"api_requests_{name}": count for name, count in sorted(self.requests_by_endpoint.items())},
            "api_rate_limited": self.rate_limited_responses,
            "api_retries": self.retries,
            "api_budget_wait_seconds": round(self.budget_wait_seconds, 3),
        }

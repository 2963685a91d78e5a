"""Counters of what a client spent, so assets can report their API cost as metadata."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("dagster_usertesting.lib.usertesting_api")

# Every budgeted endpoint, named as ApiTransport.get's callers (client.py) and the sandbox name them.
# Metadata lists all of them, zeros included, so a step that sent none of one still says so.
ENDPOINTS = (
    "list_sessions",
    "session_details",
    "transcript",
    "video_download_url",
    "qx_scores",
    "highlight_reels",
    "highlight_reel",
    "clips",
    "clip",
    "workspaces",
)


@dataclass
class RequestStats:
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    rate_limited_responses: int = 0
    retries: int = 0
    budget_wait_seconds: float = 0.0
    # Also counts each request in the store every process using the credential shares (usage.py).
    shared: Callable[[str, int | None], None] | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, endpoint: str, status: int | None = None) -> None:
        """One request sent; `status` None when no answer came (timeout, dropped connection)."""
        with self._lock:
            self.requests_by_endpoint[endpoint] += 1
        if self.shared is not None:
            try:
                self.shared(endpoint, status)
            except Exception as exc:  # the request is made: a count lost must not fail the sync
                log.warning("A request to %s was not counted in the shared store: %s", endpoint, exc)

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

    def by_endpoint(self) -> dict[str, int]:
        """Requests of every budgeted endpoint, zeros included (and any other endpoint counted)."""
        counts = {name: 0 for name in ENDPOINTS}
        counts.update(self.requests_by_endpoint)
        return counts

    def as_metadata(self) -> dict[str, Any]:
        """Two numbers the UI plots (requests, seconds waited for budget) and one entry with the rest.

        One numeric entry per endpoint made a plot per endpoint, most of them flat at 0 or equal to
        `api_requests` (each asset uses one endpoint), and an endpoint not used in a step had no
        entry at all: holes in the plots. The breakdown is one JSON entry instead, every endpoint
        in it every time.
        """
        return {
            "api_requests": self.total_requests,
            "api_budget_wait_seconds": round(self.budget_wait_seconds, 3),
            # A dict: Dagster shows it as JSON, never as a plot.
            "api_requests_by_endpoint": self.by_endpoint(),
            # Text, not two plots flat at 0: a 429 or retry is rare, and its count shows here.
            "api_429s_and_retries": f"{self.rate_limited_responses} answered 429, {self.retries} retried",
        }

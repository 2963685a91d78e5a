"""When a session that failed is asked again, and when it is quarantined: a pure policy.

A failure is a question, never an answer: a 404 on a session the listing still shows, a 503, a body
that cannot be read. Nothing is removed on its evidence (only walk.py + deletions.py remove). The
session is asked again after a doubling wait (so one broken session costs a few requests a day, not
one per run), and after `quarantine_after` failures it is quarantined: shown in a failed asset check
with its last error, asked again only on `--retry-failed` or `--full`, and no reason to start a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    first_retry_minutes: float = 30.0  # UT_SESSION_RETRY_MINUTES
    max_retry_hours: float = 24.0  # the wait doubles up to this (daily)
    quarantine_after: int = 8  # UT_SESSION_MAX_FAILURES

    def wait(self, failures: int) -> timedelta:
        minutes = self.first_retry_minutes * 2 ** max(0, failures - 1)
        return min(timedelta(minutes=minutes), timedelta(hours=self.max_retry_hours))


@dataclass(frozen=True)
class Failure:
    """A session's failures in a row at one endpoint."""

    count: int
    last_at: datetime
    last_error: str
    not_found: bool = False  # the last failure was a 404 while the listing showed the session

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "last_at": self.last_at.isoformat(),
            "last_error": self.last_error,
            "not_found": self.not_found,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Failure:
        return cls(
            int(body["count"]),
            datetime.fromisoformat(body["last_at"]),
            str(body.get("last_error") or ""),
            bool(body.get("not_found")),
        )


def failed(previous: Failure | None, now: datetime, error: str, *, not_found: bool = False) -> Failure:
    count = 1 if previous is None else previous.count + 1
    return Failure(count, now, error[:500], not_found)


def quarantined(failure: Failure | None, policy: RetryPolicy) -> bool:
    return failure is not None and failure.count >= policy.quarantine_after


def ask_now(
    failure: Failure | None, now: datetime, policy: RetryPolicy, *, retry_failed: bool = False
) -> bool:
    """Whether a session with this failure record is asked for in a sync starting `now`."""
    if failure is None or retry_failed:
        return True
    if quarantined(failure, policy):
        return False
    return now >= failure.last_at + policy.wait(failure.count)


def quarantined_of(failures: Mapping[str, Failure], policy: RetryPolicy) -> dict[str, Failure]:
    return {s: f for s, f in failures.items() if quarantined(f, policy)}


def waiting_of(
    failures: Mapping[str, Failure], sessions: Iterable[str], now: datetime, policy: RetryPolicy
) -> set[str]:
    """Sessions not to be asked now: backing off or quarantined."""
    return {s for s in sessions if not ask_now(failures.get(s), now, policy)}

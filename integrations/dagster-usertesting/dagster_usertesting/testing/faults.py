"""Scripted faults: misbehaviour a test queues, consumed in order by the next requests it matches.

Unlike `error_rate` (random, any request) these hit a chosen test, session or step of a walk, so a test
can stage "page 2 of the listing comes back empty" or "the test is revoked between the listing and the
details". Only requests the API answers consume them (past the token check, the rate limit and any
`error_rate` fault), and each is logged and counted against the rate limit like any other request.
Deterministic: no randomness anywhere here.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

from .data import Dataset

# What `listing_faults` can make one listing answer (see ScriptedFaults.listing_faults).
LISTING_FAULTS = ("ok", "empty", "empty_keep_count", "short", "count_low", "count_high", "renamed")
# Per-session endpoints, named as the client's RequestStats names them.
SESSION_ENDPOINTS = ("session_details", "transcript", "video_download_url", "clips")
ENDPOINTS = ("list_sessions", *SESSION_ENDPOINTS, "clip", "qx_scores", "highlight_reels", "highlight_reel")
ENDPOINTS += ("workspaces",)
# The key a "renamed" listing fault gives each item's ID instead of "sessionId".
RENAMED_FIELD = "id"


@dataclass
class _PageDeletion:
    test_id: str
    pages_left: int  # listing pages of the test still to be served before the deletion
    count: int


@dataclass
class _Revocation:
    test_id: str
    requests_left: int  # API requests still to be answered before the test is revoked
    status: int
    endpoint: str | None  # count only this endpoint's requests; None: every request


class ScriptedFaults:
    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget every fault still queued."""
        with self._lock:
            self._listing: dict[str, deque[str]] = {}
            self._deletions: list[_PageDeletion] = []
            self._not_found: Counter[tuple[str, str]] = Counter()
            self._revocations: list[_Revocation] = []

    def pending(self) -> dict[str, Any]:
        """What is still queued (GET /_sandbox/state shows it)."""
        with self._lock:
            return {
                "listing_faults": {t: list(q) for t, q in self._listing.items() if q},
                "delete_after_page": [asdict(d) for d in self._deletions],
                "transient_not_found": [
                    {"endpoint": e, "session_id": s, "times": n} for (e, s), n in self._not_found.items()
                ],
                "revoke_after": [asdict(r) for r in self._revocations],
            }

    # -- queued by tests (also POST /_sandbox/<method>) ------------------------------------------

    def listing_faults(self, test_id: str, *faults: str) -> list[str]:
        """The test's next listing answers, one fault per request, in order; then normal answers.

        "empty": 200 with no sessions and totalCount 0. "empty_keep_count": no sessions, the true
        totalCount. "short": only the first half of the page's sessions (rounded down), the true
        totalCount. "count_low" / "count_high": totalCount 1 below / above what it would report.
        "renamed": each item's ID keyed "id" instead of "sessionId". "ok": served normally (so a
        fault can target page 2). Probes are listing requests too. A listing refused
        (revoked test, bad query) consumes nothing. Returns the test's queue as it now stands."""
        if unknown := [f for f in faults if f not in LISTING_FAULTS]:
            raise ValueError(f"unknown listing fault {unknown}; expected some of {', '.join(LISTING_FAULTS)}")
        test_id = self._test_id(test_id)
        with self._lock:
            queue = self._listing.setdefault(test_id, deque())
            queue.extend(faults)
            return list(queue)

    def delete_after_page(self, test_id: str, page: int = 1, count: int = 5) -> None:
        """Right after the test's `page`-th listing answer from now (1-based, any offset or limit,
        probes included) is served, delete the first `count` sessions it served (newest first):
        the next page's offsets shift and totalCount drops, as a deletion during a walk does."""
        if page < 1 or count < 1:
            raise ValueError("page and count are at least 1")
        test_id = self._test_id(test_id)
        with self._lock:
            self._deletions.append(_PageDeletion(test_id, page, count))

    def transient_not_found(self, session_id: str, times: int = 1, endpoint: str = "session_details") -> None:
        """The next `times` requests of `endpoint` for this session answer 404 as for a missing session,
        then it is served normally. A request refused for another reason (revoked test) consumes none."""
        if endpoint not in SESSION_ENDPOINTS:
            raise ValueError(f"endpoint is one of {', '.join(SESSION_ENDPOINTS)}, not {endpoint!r}")
        if times < 1:
            raise ValueError("times is at least 1")
        record = self._dataset.session(session_id)
        if record is None:
            raise KeyError(f"no session {session_id} in the sandbox")
        with self._lock:
            self._not_found[(endpoint, record.session_id)] += times

    def revoke_after(
        self, test_id: str, requests: int, status: int = 404, endpoint: str | None = None
    ) -> None:
        """After `requests` more API answers (any endpoint, any test, from now), revoke the test as
        `revoke_test(test_id, status)` does: its listing, qxScores and sessions answer `status`.
        0 revokes it now. With `endpoint` (e.g. "list_sessions") only that endpoint's answers count,
        so `revoke_after(t, 1, endpoint="list_sessions")` revokes right after the next listing answer
        however many other requests a run makes first."""
        if status not in (401, 404):
            raise ValueError("a revoked test answers 404 or 401")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint is one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
        if requests < 0:
            raise ValueError("requests cannot be negative")
        test_id = self._test_id(test_id)
        if requests == 0:
            self._dataset.revoke_test(test_id, status)
            return
        with self._lock:
            self._revocations.append(_Revocation(test_id, requests, status, endpoint))

    def _test_id(self, test_id: str) -> str:
        study = self._dataset.study(test_id)
        if study is None:
            raise KeyError(f"no test {test_id} in the sandbox")
        return study.test_id

    # -- consumed by the server ------------------------------------------------------------------

    def next_listing_fault(self, test_id: str) -> str:
        with self._lock:
            queue = self._listing.get(test_id)
            return queue.popleft() if queue else "ok"

    def listing_served(self, test_id: str, served: list[str]) -> list[str]:
        """Count a listing answer of the test that served these session IDs; returns those deleted."""
        with self._lock:
            due = []
            for deletion in self._deletions:
                if deletion.test_id == test_id:
                    deletion.pages_left -= 1
                    if deletion.pages_left == 0:
                        due.append(deletion)
            self._deletions = [d for d in self._deletions if d.pages_left > 0]
        deleted: list[str] = []
        for deletion in due:
            chosen = [i for i in served if i not in deleted and self._dataset.session(i)][: deletion.count]
            deleted += self._dataset.delete_sessions(chosen) if chosen else []
        return deleted

    def take_not_found(self, endpoint: str, session_id: str) -> bool:
        """Whether this request must answer 404 (and, if so, one fewer will)."""
        with self._lock:
            key = (endpoint, session_id)
            if self._not_found[key] <= 0:
                self._not_found.pop(key, None)
                return False
            self._not_found[key] -= 1
            if not self._not_found[key]:
                del self._not_found[key]
            return True

    def request_answered(self, endpoint: str) -> None:
        """Count one API answer towards `revoke_after`; revoke the tests whose count is reached."""
        with self._lock:
            due = []
            for revocation in self._revocations:
                if revocation.endpoint not in (None, endpoint):
                    continue
                revocation.requests_left -= 1
                if revocation.requests_left == 0:
                    due.append(revocation)
            self._revocations = [r for r in self._revocations if r.requests_left > 0]
        for revocation in due:
            self._dataset.revoke_test(revocation.test_id, revocation.status)

"""A 404 on a session is a question: did the test itself still answer?

Access denied looks like 404 throughout the API, so a test revoked mid-run makes every session answer
404 as if each had no details, transcript or video. A session's 404 is therefore held back, not acted
on, until the test is known to have answered *after* it: a later request of the step succeeded, or a
listing probe (`limit=1`) says so. If the probe is refused, the step stops and the held-back 404s
are dropped: no session is marked failing, missing or without a video. A probe is spent only for 404s
no later success vouches for: at most one per `check_after` 404s in a row, and one at the step's end.

How soon to ask trades budget against a revoked test's wasted requests. A details 404 is rare (a
deleted session), so the test is asked after 3; a transcript or video 404 is a normal answer ("none
yet"), so those steps ask after 10: a revoked test costs at most 10 wasted requests there, and a
first sync of a test without transcripts spends one probe instead of one per three sessions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.errors import UserTestingError

RARE_404_CHECK_AFTER = 3  # details: a 404 means a deleted session, or a revoked test
EXPECTED_404_CHECK_AFTER = 10  # transcripts and videos: a 404 usually means "none yet"


class TestNotAnsweringError(UserTestingError):
    """The test itself stopped answering mid-run (revoked access, deleted test): no session is marked."""

    __test__ = False


@dataclass(frozen=True)
class NotFound:
    session_id: str
    at: datetime
    error: str


@dataclass
class NotFoundEvidence:
    """404s of one step, held back until the test answered after them."""

    client: UserTestingClient
    test_id: TestId
    what: str  # "details", "transcript", "video": for the message
    check_after: int = RARE_404_CHECK_AFTER  # 404s in a row before the test is asked
    _held: list[NotFound] = field(default_factory=list)

    def not_found(
        self, session_id: str, at: datetime, error: str = ""
    ) -> tuple[list[NotFound], UserTestingError | None]:
        """Hold a 404 back; after `check_after` in a row, ask the test (see `settle`)."""
        self._held.append(NotFound(session_id, at, error))
        if len(self._held) >= self.check_after:
            return self.settle()
        return [], None

    @property
    def held(self) -> int:
        """404s waiting for the test to be known to answer (counted by the probe rules meanwhile)."""
        return len(self._held)

    def answered(self) -> list[NotFound]:
        """A later request of this test succeeded: every 404 held back was the session's own answer."""
        confirmed, self._held = self._held, []
        return confirmed

    def settle(self) -> tuple[list[NotFound], UserTestingError | None]:
        """Ask the test whether it still answers: (the 404s now confirmed, None) or ([], the error)."""
        if not self._held:
            return [], None
        last = self._held[-1].session_id
        try:
            self.client.probe_listing(self.test_id)
        except UserTestingError as exc:
            self._held = []
            return [], TestNotAnsweringError(
                f"Test {self.test_id} stopped answering during this run: the {self.what} of session {last} "
                f"answered 404, and so did the test's own listing ({type(exc).__name__}). Its access was "
                "probably revoked, or the test deleted. No session was marked as failing, missing or "
                "without a video; the next sync asks again."
            )
        return self.answered(), None


def listing_probes(not_found: Iterable[bool], check_after: int) -> int:
    """The probes `NotFoundEvidence` spends on a step whose asked sessions answered in this order
    (True: 404, False: success), if the test keeps answering: for the catch-up estimate."""
    probes = held = 0
    for answered_404 in not_found:
        held = held + 1 if answered_404 else 0
        if held >= check_after:
            probes, held = probes + 1, 0
    return probes + (held > 0)

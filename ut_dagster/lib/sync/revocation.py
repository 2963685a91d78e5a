"""A 404 on a session is a question: does the test itself still answer?

Access denied looks like 404 throughout the API, so a test revoked mid-run makes every session answer
404 as if each had no details, transcript or video. One listing probe (`limit=1`) per streak of 404s
tells the two apart; a test that no longer answers stops the run before any session is marked.
"""

from __future__ import annotations

from ut_dagster.lib.ids import TestId
from ut_dagster.lib.usertesting_api.client import UserTestingClient
from ut_dagster.lib.usertesting_api.errors import UserTestingError


class TestNotAnsweringError(UserTestingError):
    """The test itself stopped answering mid-run (revoked access, deleted test): no session is marked."""

    __test__ = False


def test_stopped_answering(
    client: UserTestingClient, test_id: TestId, session_id: str, what: str
) -> TestNotAnsweringError | None:
    """After session `session_id`'s `what` answered 404: one request asks whether the test still answers."""
    try:
        client.probe_listing(test_id)
    except UserTestingError as exc:
        return TestNotAnsweringError(
            f"Test {test_id} stopped answering during this run: the {what} of session {session_id} "
            f"answered 404, and so did the test's own listing ({type(exc).__name__}). Its access was "
            "probably revoked, or the test deleted. No session was marked as failed or missing; the next "
            "sync asks again."
        )
    return None


class NotFoundStreak:
    """Asks `test_stopped_answering` once per streak of 404s (a success ends a streak)."""

    def __init__(self, client: UserTestingClient, test_id: TestId, what: str) -> None:
        self._client, self._test_id, self._what = client, test_id, what
        self._checked = False

    def not_found(self, session_id: str) -> TestNotAnsweringError | None:
        if self._checked:
            return None
        self._checked = True
        return test_stopped_answering(self._client, self._test_id, session_id, self._what)

    def found(self) -> None:
        self._checked = False

"""Errors a user can meet when talking to UserTesting, each saying what to check.

Messages name the test or session and the setting involved, never a secret value.
"""

from __future__ import annotations


class UserTestingError(RuntimeError):
    """Base class: anything that went wrong talking to the UserTesting API."""


class UserTestingConfigError(UserTestingError, ValueError):
    """A setting is unusable (e.g. a base URL without a scheme): raised before any request is sent."""


class UserTestingAuthError(UserTestingError):
    """The credential was refused (even after asking for a fresh token)."""


class UserTestingNotFoundError(UserTestingError):
    """404: the test or session does not exist, or this credential may not see it."""


class UserTestingBadRequestError(UserTestingError):
    """400: the API refused the request's parameters."""


class UserTestingUnavailableError(UserTestingError):
    """5xx, timeouts or dropped connections that outlasted every retry."""


class UserTestingRateLimitError(UserTestingError):
    """429s that kept coming after waiting for the window to reset."""


class BudgetUnavailableError(UserTestingError):
    """A bounded caller (the sensor) would have had to wait longer for rate budget than it may.

    Nothing was sent and no budget was spent; try again later.
    """


class MalformedResponseError(UserTestingError):
    """A 200 response whose body is not what the API documents. Keeps the body for the record."""

    def __init__(self, message: str, body: bytes) -> None:
        super().__init__(message)
        self.body = body


class VideoLinkExpiredError(UserTestingError):
    """The storage host refused a pre-signed video link (HTTP 403): ask for a fresh one."""

"""One logical API request: wait for budget, authenticate, send, retry what is worth retrying.

- Budget is taken before sending (see rate_limit.py), so 429s should not happen at all.
- A 429 spends the shared budget for the window, and nothing is sent before its x-ratelimit-reset.
- x-ratelimit-remaining below what we believe we have pulls the shared budget down to it.
- 5xx, timeouts and dropped connections retry with bounded, jittered exponential backoff.
- 401 gets one fresh token; 400, 404 and a second 401 are answers, not accidents: never retried.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from dagster_usertesting.lib.usertesting_api.auth import TokenProvider
from dagster_usertesting.lib.usertesting_api.errors import (
    BudgetUnavailableError,
    UserTestingAuthError,
    UserTestingBadRequestError,
    UserTestingError,
    UserTestingNotFoundError,
    UserTestingRateLimitError,
    UserTestingUnavailableError,
)
from dagster_usertesting.lib.usertesting_api.rate_limit import SharedRateLimiter
from dagster_usertesting.lib.usertesting_api.stats import RequestStats

log = logging.getLogger("dagster_usertesting.lib.usertesting_api")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    max_rate_limit_waits: int = 10
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0


class _Transient(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


MAX_SERVER_RESET_SECONDS = 300.0


class _RateLimited(Exception):
    def __init__(self, reset_seconds: float | None) -> None:
        super().__init__("HTTP 429")
        self.reset_seconds = reset_seconds


class ApiTransport:
    def __init__(
        self,
        http: httpx.Client,
        tokens: TokenProvider,
        limiter: SharedRateLimiter,
        stats: RequestStats,
        policy: RetryPolicy,
        max_concurrent_requests: int,
        max_budget_wait: float | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._limiter = limiter
        self.stats = stats
        self._policy = policy
        self._slots = threading.BoundedSemaphore(max(1, max_concurrent_requests))
        self.max_budget_wait = max_budget_wait
        # Set when the server said its window is spent (x-ratelimit-remaining 0): nothing is sent
        # before its x-ratelimit-reset, whatever our own window believes. Ours can end first when
        # the two windows are out of phase (a busy host delays a request past our window's start).
        self._server_reset_at = 0.0

    def bounded(self, max_budget_wait: float | None) -> ApiTransport:
        """The same connection, credential, budget and counters, with another bound on budget waits."""
        other = copy.copy(self)
        other.max_budget_wait = max_budget_wait
        return other

    def get(
        self,
        endpoint: str,
        path: str,
        *,
        what: str,
        params: dict | None = None,
        absent: tuple[int, ...] = (),
        not_found: str | None = None,
        subject: str | None = None,
    ) -> httpx.Response | None:
        """GET `path`; `what` names the thing asked for (e.g. "session 1f0…") in errors and logs.

        Statuses in `absent` mean "there is none" (e.g. no transcript) and return None. `not_found`
        replaces the generic message of a 404 where the caller knows more about its causes.
        `subject` names the test a test-scoped request is about, so a 401 on it points at that
        test's access rather than at the credential (see TokenProvider.refused_message).
        """
        retrying = Retrying(
            retry=retry_if_exception_type((_Transient, _RateLimited)),
            stop=self._should_stop,
            wait=self._wait,
            before_sleep=lambda state: self._before_retry(state, endpoint, what),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send(
                        endpoint,
                        path,
                        what=what,
                        params=params,
                        absent=absent,
                        not_found=not_found,
                        subject=subject,
                    )
        except _Transient as exc:
            raise UserTestingUnavailableError(
                f"UserTesting API did not answer for {what} after {self._policy.max_retries + 1} attempts "
                f"(last: {exc.reason}). Nothing already fetched is lost; rerun later, or check "
                "USERTESTING_BASE_URL."
            ) from None
        except _RateLimited:
            raise UserTestingRateLimitError(
                f"Still rate limited (HTTP 429) for {what} after waiting {self._policy.max_rate_limit_waits} "
                "times. Another process or host may be using the same credential without sharing the "
                "limiter: point them all at one USERTESTING_RATE_LIMIT_STORE, or lower "
                "USERTESTING_REQUESTS_PER_MINUTE."
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        endpoint: str,
        path: str,
        *,
        what: str,
        params: dict | None,
        absent: tuple[int, ...],
        not_found: str | None,
        subject: str | None,
    ) -> httpx.Response | None:
        for renewed in (False, True):
            self._wait_for_server_reset(what)
            # A token fetch between the limiter's grant and the request would send the request later
            # than the shared window counted it, so the token comes first; asked again after the
            # wait (free unless the wait outlasted it).
            self._tokens.token()
            self.stats.add_wait(self._limiter.acquire(self.max_budget_wait))
            token = self._tokens.token()
            try:
                with self._slots:
                    response = self._http.get(
                        path, params=params, headers={"Authorization": f"Bearer {token}"}
                    )
            except httpx.TimeoutException:
                self.stats.count_request(endpoint, None)
                raise _Transient("timeout") from None
            except httpx.TransportError as exc:
                self.stats.count_request(endpoint, None)
                raise _Transient(type(exc).__name__) from None
            self.stats.count_request(endpoint, response.status_code)
            self._match_server_budget(response)
            status = response.status_code
            if status == 401 and not renewed and self._tokens.can_renew:
                self._tokens.invalidate(token)
                continue
            return self._check(response, what=what, absent=absent, not_found=not_found, subject=subject)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(
        self,
        response: httpx.Response,
        *,
        what: str,
        absent: tuple[int, ...],
        not_found: str | None,
        subject: str | None,
    ) -> httpx.Response | None:
        status = response.status_code
        if status < 300:
            self._tokens.note_accepted()
            return response
        if status == 429:
            self.stats.count_rate_limited()
            self._limiter.exhaust()
            reset = _header_number(response, "x-ratelimit-reset")
            if self.max_budget_wait is not None and reset is not None and reset > self.max_budget_wait:
                raise BudgetUnavailableError(
                    f"UserTesting answered HTTP 429 for {what}: its budget frees up in {reset:g} s, longer "
                    f"than this caller may wait ({self.max_budget_wait:g} s). Nothing was fetched; this "
                    "check will try again later."
                )
            raise _RateLimited(reset)
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        if status in absent:
            if status != 404:
                # The API's error cases are sparsely documented; a refusal here means "none for this one".
                log.warning("No %s: HTTP %s (%s).", what, status, _short_body(response))
            return None
        if status == 404:
            raise UserTestingNotFoundError(
                not_found
                or f"{what} was not found (HTTP 404): check the ID, and that this credential's account can "
                "see it (UserTesting answers 404, not 403, for results you may not access)."
            )
        if status == 401:
            raise UserTestingAuthError(self._tokens.refused_message(what, subject))
        if status == 400:
            raise UserTestingBadRequestError(
                f"UserTesting rejected the request for {what} (HTTP 400: {_short_body(response)})."
            )
        raise UserTestingError(f"Unexpected HTTP {status} from UserTesting for {what}.")

    def _match_server_budget(self, response: httpx.Response) -> None:
        # Another host on the same credential, or a limit lower than configured: when the server has
        # less budget left than we believe, everyone sharing our budget gives up the difference.
        remaining = _header_number(response, "x-ratelimit-remaining")
        if remaining is not None and response.status_code != 429:
            self._limiter.match_remaining(int(remaining))
            reset = _header_number(response, "x-ratelimit-reset")
            if remaining <= 0 and reset is not None and reset > 0:
                # Seconds left in the server's window (API-NOTES), which can be longer than ours; a
                # timestamp sent by mistake must not stall the sync for long.
                reset = min(reset, max(2 * self._limiter.window_seconds, MAX_SERVER_RESET_SECONDS))
                self._server_reset_at = max(self._server_reset_at, time.monotonic() + reset)

    def _wait_for_server_reset(self, what: str) -> None:
        pause = self._server_reset_at - time.monotonic()
        if pause <= 0:
            return
        if self.max_budget_wait is not None and pause > self.max_budget_wait:
            raise BudgetUnavailableError(
                f"UserTesting said its request budget is spent for the next {pause:.0f} s, longer than this "
                f"caller may wait ({self.max_budget_wait:g} s) before asking for {what}. Nothing was sent; "
                "this check will try again later."
            )
        self.stats.add_wait(pause)
        time.sleep(pause)

    def _should_stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = (
            self._policy.max_rate_limit_waits if isinstance(exc, _RateLimited) else self._policy.max_retries
        )
        return state.attempt_number > limit

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RateLimited) and exc.reset_seconds is not None:
            # The limiter was exhausted on the 429, so the next acquire waits out our window; the
            # server's reset can be later (a window configured shorter than the server's).
            self.stats.add_wait(max(0.0, exc.reset_seconds))
            return max(0.0, exc.reset_seconds)
        jitter = wait_random_exponential(
            multiplier=self._policy.backoff_base_seconds, max=self._policy.backoff_max_seconds
        )
        # A bounded caller (the sensor) must stay short: no backoff longer than its budget wait.
        bound = self.max_budget_wait
        return jitter(state) if bound is None else min(jitter(state), bound)

    def _before_retry(self, state: RetryCallState, endpoint: str, what: str) -> None:
        self.stats.count_retry()
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "Retrying %s request for %s after %s (attempt %d).", endpoint, what, exc, state.attempt_number
        )


def _header_number(response: httpx.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


def _short_body(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200] or "no details"

"""Bearer tokens for the UserTesting API: a ready-made token, or OAuth2 client credentials.

Client-credential tokens last an hour and come with no refresh token, so we ask for a new one a
little before expiry (a tenth of the token's lifetime, at most two minutes), and once more when the
API answers 401 (revoked or clock skew).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import httpx

from dagster_usertesting.lib.usertesting_api.errors import UserTestingAuthError, UserTestingUnavailableError

# Renew a little before the token expires, so a request never leaves with a token about to die: a
# fixed margin would renew short-lived tokens (seen: 20 s) before every request.
RENEW_MARGIN_SECONDS = 120.0
RENEW_MARGIN_FRACTION = 0.1


@dataclass(frozen=True)
class _Issued:
    token: str
    renew_at: float  # time.monotonic()


# Tokens issued in this process, by credential: Dagster builds resources anew for every sensor tick
# and run step, so a token kept per provider meant one token request a tick (1,440 a day) and a token
# fetch inside every tick's time bound. Keyed by a hash; the tokens never leave memory.
_issued: dict[str, _Issued] = {}
_issued_lock = threading.Lock()


def _issued_key(*parts: str | None) -> str:
    return hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()


class TokenProvider:
    """Hands out a valid bearer token; thread-safe. Never logs or repeats secrets."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        access_token: str | None,
        client_id: str | None,
        client_secret: str | None,
        token_url: str,
        scope: str,
        shared_as: str | None = None,
    ) -> None:
        """`shared_as`: where the credential's budget is kept (the rate-limit store); providers of the
        same credential, token URL, scope and store in this process share one token (None: no sharing,
        as the budget is not shared either)."""
        if not access_token and not (client_id and client_secret):
            raise UserTestingAuthError(
                "No UserTesting credential: set USERTESTING_ACCESS_TOKEN, or USERTESTING_CLIENT_ID and "
                "USERTESTING_CLIENT_SECRET (OAuth2 client credentials)."
            )
        self._http = http
        self._static = access_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._scope = scope
        self._token: str | None = None
        self._renew_at = 0.0
        self._accepted_at: float | None = None  # monotonic time the API last answered our token
        self._lock = threading.Lock()
        self._key = (
            None if shared_as is None else _issued_key(token_url, client_id, client_secret, scope, shared_as)
        )

    @property
    def can_renew(self) -> bool:
        return self._static is None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs or errors. Nothing here logs them; tests check that."""
        return tuple(s for s in (self._static, self._client_secret, self._token) if s)

    def token(self) -> str:
        if self._static:
            return self._static
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                issued = self._shared()
                if issued is not None and time.monotonic() < issued.renew_at:
                    self._token, self._renew_at = issued.token, issued.renew_at
                else:
                    self._fetch()
                    if self._key is not None and self._token is not None:
                        with _issued_lock:
                            _issued[self._key] = _Issued(self._token, self._renew_at)
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """The API refused `token`: forget it, here and for the process, so the next call fetches a
        fresh one."""
        with self._lock:
            if self._token == token:
                self._token = None
        with _issued_lock:
            if (
                self._key is not None
                and (issued := _issued.get(self._key)) is not None
                and issued.token == token
            ):
                del _issued[self._key]

    def _shared(self) -> _Issued | None:
        if self._key is None:
            return None
        with _issued_lock:
            return _issued.get(self._key)

    def _fetch(self) -> None:
        # The vendor documents credentials in the form body (client_secret_post), not HTTP Basic.
        data = {
            "grant_type": "client_credentials",
            "client_id": self._client_id or "",
            "client_secret": self._client_secret or "",
            "scope": self._scope,
        }
        try:
            response = self._http.post(self._token_url, data=data, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise UserTestingUnavailableError(
                f"Could not reach the UserTesting token endpoint ({self._token_url}): "
                f"{type(exc).__name__}. Check USERTESTING_TOKEN_URL and your network."
            ) from None
        if response.status_code in (400, 401, 403):
            raise UserTestingAuthError(
                f"The token endpoint refused the client credentials (HTTP {response.status_code}). "
                "Check USERTESTING_CLIENT_ID, USERTESTING_CLIENT_SECRET, USERTESTING_SCOPE and "
                "USERTESTING_TOKEN_URL."
            )
        if response.status_code >= 300:
            raise UserTestingUnavailableError(
                f"The token endpoint answered HTTP {response.status_code}; try again later."
            )
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise UserTestingAuthError(
                "The token endpoint's answer has no access_token: check USERTESTING_TOKEN_URL."
            ) from None
        self._token = str(token)
        self._renew_at = (
            time.monotonic() + lifetime - min(RENEW_MARGIN_SECONDS, lifetime * RENEW_MARGIN_FRACTION)
        )

    def note_accepted(self) -> None:
        """The API answered a request made with the current token: it works, for what it may see.

        Kept only to word a later 401: one test refused while the token is accepted for others is
        about that test's access, not about the secrets.
        """
        self._accepted_at = time.monotonic()

    def refused_message(self, what: str, subject: str | None = None) -> str:
        """What to do when the API refuses the credential (HTTP 401) for `what`.

        `subject` names the test a test-scoped request is about ("the test", "the session's test",
        `what` holding the ID); None for a request
        about the credential as a whole (the workspaces list), where a 401 can only be the token's.
        """
        if subject is None:
            return self._credential_refused(what)
        access = (
            f"most likely the credential's account has lost access to {subject} (deleted, or moved to or "
            "unshared from a workspace the account is not in). `ut-dagster tests` lists the tests the "
            "credential can see; `ut-dagster forget TEST_ID` stops syncing one."
        )
        if self._accepted_at is not None:
            ago = time.monotonic() - self._accepted_at
            return (
                f"UserTesting refused access to {what} (HTTP 401), but it accepted the same credential "
                f"for another request {ago:.0f} s ago, so the credential works: {access} Nothing needs "
                "changing in the USERTESTING_* settings."
            )
        if self.can_renew:
            return (
                f"UserTesting refused access to {what} (HTTP 401), but the token endpoint has just issued "
                "a fresh token for USERTESTING_CLIENT_ID, so the client ID and secret work: "
                f"{access} Only if every test is refused like this is the credential's account the cause "
                "(USERTESTING_TOKEN_URL must belong to the account of USERTESTING_BASE_URL)."
            )
        return (
            f"UserTesting refused the token in USERTESTING_ACCESS_TOKEN for {what} (HTTP 401). If other "
            f"tests still sync with this token, {access} If every test is refused, the token has expired "
            "or was revoked, and a ready-made token cannot be renewed: set a fresh token in "
            "USERTESTING_ACCESS_TOKEN, or set USERTESTING_CLIENT_ID and USERTESTING_CLIENT_SECRET instead "
            "(and unset USERTESTING_ACCESS_TOKEN) so tokens are renewed automatically."
        )

    def _credential_refused(self, what: str) -> str:
        if self._static:
            return (
                f"UserTesting refused the token in USERTESTING_ACCESS_TOKEN for {what} (HTTP 401): it has "
                "expired or was revoked, and a ready-made token cannot be renewed. Set a fresh token in "
                "USERTESTING_ACCESS_TOKEN, or set USERTESTING_CLIENT_ID and USERTESTING_CLIENT_SECRET "
                "instead (and unset USERTESTING_ACCESS_TOKEN) so tokens are renewed automatically."
            )
        return (
            f"UserTesting refused the credential for {what} (HTTP 401) even with a freshly issued token. "
            "Check that USERTESTING_CLIENT_ID's application may read results (USERTESTING_SCOPE) and "
            "that USERTESTING_TOKEN_URL belongs to the same account as USERTESTING_BASE_URL."
        )

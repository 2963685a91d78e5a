"""Bearer tokens for the UserTesting API: a ready-made token, or OAuth2 client credentials.

Client-credential tokens last an hour and come with no refresh token, so we ask for a new one a
little before expiry, and once more when the API answers 401 (revoked or clock skew).
"""

from __future__ import annotations

import threading
import time

import httpx

from ut_dagster.lib.usertesting_api.errors import UserTestingAuthError, UserTestingUnavailableError

# Renew this long before the token expires, so a request never leaves with a token about to die.
RENEW_MARGIN_SECONDS = 120.0


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
    ) -> None:
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
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.tokens_issued = 0

    @property
    def can_renew(self) -> bool:
        return self._static is None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs or errors (used by redaction)."""
        return tuple(s for s in (self._static, self._client_secret, self._token) if s)

    def token(self) -> str:
        if self._static:
            return self._static
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - RENEW_MARGIN_SECONDS:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """The API refused `token`: forget it so the next call fetches a fresh one."""
        with self._lock:
            if self._token == token:
                self._token = None

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
        self._expires_at = time.monotonic() + lifetime
        self.tokens_issued += 1

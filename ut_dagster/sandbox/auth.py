"""The OAuth2 token endpoint (Okta-style client credentials in the form body) and bearer-token checks.

Credentials: every token issued to one client shares the budget "client:<client_id>"; each static token
is its own credential "static:<n>" (its position in SandboxConfig.static_tokens), so request logs never
show a secret. Tokens are opaque and checked by lookup.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from urllib.parse import parse_qs

from .config import SandboxConfig
from .responses import Request, Response, json_response

SCOPES = frozenset({"studies:read", "public_api.read"})


def _oauth_error(status: int, error: str, description: str) -> Response:
    response = json_response(status, {"error": error, "error_description": description})
    response.headers += [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
    return response


class Tokens:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._issued: dict[str, tuple[str, float]] = {}

    def credential_for(self, request: Request) -> str | None:
        """The credential behind a request's bearer token, or None when it must get a 401."""
        scheme, _, token = (request.header("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if token in self._config.static_tokens:
            return f"static:{self._config.static_tokens.index(token)}"
        with self._lock:
            credential, expires_at = self._issued.get(token, (None, 0.0))
        return credential if time.monotonic() < expires_at else None

    def revoke(self) -> None:
        """Forget every issued token, as a server-side revocation would; static tokens stay valid."""
        with self._lock:
            self._issued.clear()

    def token_endpoint(self, request: Request) -> Response:
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        client_id = form.get("client_id", [None])[0]
        if client_id is None:
            return _oauth_error(401, "invalid_client", "No client credentials found.")
        if (
            client_id != self._config.client_id
            or form.get("client_secret", [None])[0] != self._config.client_secret
        ):
            return _oauth_error(
                401, "invalid_client", "The client secret supplied for a confidential client is invalid."
            )
        grant = form.get("grant_type", [""])[0]
        if request.method != "POST" or grant != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", f"The authorization grant type is not supported: {grant}"
            )
        scope = form.get("scope", [""])[0].strip() or "studies:read"
        if not set(scope.split()) <= SCOPES:
            return _oauth_error(400, "invalid_scope", "One or more scopes are not configured for the server.")
        lifetime = self._config.token_lifetime_seconds
        token = secrets.token_urlsafe(48)
        with self._lock:
            now = time.monotonic()
            self._issued = {t: v for t, v in self._issued.items() if v[1] > now}
            self._issued[token] = (f"client:{client_id}", now + lifetime)
        body = {
            "token_type": "Bearer",
            "expires_in": math.ceil(lifetime),
            "access_token": token,
            "scope": scope,
        }
        response = json_response(200, body)
        response.headers += [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        return response

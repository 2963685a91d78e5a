"""The OAuth2 token endpoint (Okta-style client credentials) and bearer-token checks.

Credentials: every token issued to one client shares the budget "client:<client_id>"; each static token
is its own credential "static:<n>" (its position in SandboxConfig.static_tokens), so request logs never
show a secret. Tokens look like JWTs, as Okta's do, but are opaque to clients and checked by lookup.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import threading
import time
from urllib.parse import parse_qs, unquote_plus

from .config import LEGACY_TOKEN_PATH, SandboxConfig
from .responses import Request, Response, json_response

SCOPES = frozenset({"studies:read", "public_api.read"})
_DEFAULT_SCOPE = {LEGACY_TOKEN_PATH: "public_api.read"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _oauth_error(status: int, error: str, description: str) -> Response:
    response = json_response(status, {"error": error, "error_description": description})
    response.headers += [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
    if status == 401:
        response.headers.append(("WWW-Authenticate", 'Basic realm="okta"'))
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

    def _client(self, request: Request, form: dict[str, list[str]]) -> tuple[str | None, str | None]:
        scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = (
                    base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            # RFC 6749 2.3.1: both parts are form-encoded before they are joined and base64-encoded.
            return unquote_plus(client_id), unquote_plus(secret)
        return form.get("client_id", [None])[0], form.get("client_secret", [None])[0]

    def token_endpoint(self, request: Request) -> Response:
        if request.method != "POST":
            response = _oauth_error(405, "invalid_request", "The token endpoint only accepts POST.")
            response.headers.append(("Allow", "POST"))
            return response
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error(
                400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded."
            )
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        client_id, secret = self._client(request, form)
        if client_id is None:
            return _oauth_error(401, "invalid_client", "No client credentials found.")
        if client_id != self._config.client_id or secret != self._config.client_secret:
            return _oauth_error(
                401, "invalid_client", "The client secret supplied for a confidential client is invalid."
            )
        grant = form.get("grant_type", [""])[0]
        if not grant:
            return _oauth_error(400, "invalid_request", "The token request must specify a 'grant_type'.")
        if grant != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", f"The authorization grant type is not supported: {grant}"
            )
        scope = form.get("scope", [""])[0].strip() or _DEFAULT_SCOPE.get(request.path, "studies:read")
        if not set(scope.split()) <= SCOPES:
            return _oauth_error(400, "invalid_scope", "One or more scopes are not configured for the server.")
        return self._issue(client_id, scope)

    def _issue(self, client_id: str, scope: str) -> Response:
        lifetime = self._config.token_lifetime_seconds
        now = time.time()
        claims = {"ver": 1, "jti": secrets.token_hex(8), "iss": "https://sandbox.usertesting.invalid/oauth2"}
        claims |= {"aud": "api://default", "iat": int(now), "exp": int(now + lifetime), "cid": client_id}
        claims["scp"] = scope.split()
        header = _b64(json.dumps({"kid": "sandbox", "alg": "RS256"}).encode())
        token = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(64))}"
        with self._lock:
            now_mono = time.monotonic()
            self._issued = {t: v for t, v in self._issued.items() if v[1] > now_mono}
            self._issued[token] = (f"client:{client_id}", now_mono + lifetime)
        body = {
            "token_type": "Bearer",
            "expires_in": math.ceil(lifetime),
            "access_token": token,
            "scope": scope,
        }
        response = json_response(200, body)
        response.headers += [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        return response

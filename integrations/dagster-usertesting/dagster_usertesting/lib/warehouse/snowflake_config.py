"""Snowflake settings from SNOWFLAKE_* environment variables, and the key pair as the connector takes it.

No Snowflake import at module level: the DuckDB configuration never loads this, and the Snowflake one
reads settings before connecting.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from dagster import EnvVar


class SnowflakeConfigError(ValueError):
    """The SNOWFLAKE_* environment does not describe a usable connection."""


def normalise_private_key(value: str) -> str:
    """PEM text as the key loader wants it.

    Secrets stores and .env files often hold a PEM on one line with literal `\\n` sequences.
    Base64 text passes through.
    """
    value = value.strip()
    if value.startswith("-----BEGIN") and "\\n" in value:
        value = value.replace("\\n", "\n").strip()
    return value


def load_private_key(text: str | None, path: str | None, passphrase: str | None) -> bytes:
    """The private key as unencrypted PKCS#8 DER bytes, which the connector's `private_key` takes."""
    from cryptography.hazmat.primitives import serialization

    where = "SNOWFLAKE_PRIVATE_KEY_PATH" if path and not text else "SNOWFLAKE_PRIVATE_KEY"
    try:
        data = normalise_private_key(text).encode() if text else Path(path or "").expanduser().read_bytes()
    except OSError as error:
        raise SnowflakeConfigError(f"{where}: the key file cannot be read ({error.strerror}).") from None
    if not data.lstrip().startswith(b"-----BEGIN"):
        with suppress(binascii.Error, ValueError):
            data = base64.b64decode(data, validate=False)
    password = passphrase.encode() if passphrase else None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except (ValueError, TypeError):
        # The library's message is not repeated: it is not needed and must not risk quoting the key.
        raise SnowflakeConfigError(
            f"{where} is not a usable private key: a PEM or DER key, encrypted with "
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if it has one."
        ) from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


_REQUIRED = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_DATABASE")
_OPTIONAL = {"role": "SNOWFLAKE_ROLE", "warehouse": "SNOWFLAKE_WAREHOUSE"}


def snowflake_resource(environ: Mapping[str, str] | None = None) -> Any:
    """A dagster-snowflake `SnowflakeResource` (for queries, e.g. the research alerts), same settings."""
    from dagster_usertesting.lib.warehouse.snowflake_query import SnowflakeQueryResource

    return SnowflakeQueryResource(**connection_config(environ))


def connection_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Connection settings from SNOWFLAKE_* environment variables.

    Every value is an `EnvVar`, resolved when a run starts, so no secret appears in run config or
    the UI. `environ` only decides which variables to reference (an unset EnvVar fails config
    resolution): key-pair auth (SNOWFLAKE_PRIVATE_KEY PEM text, else SNOWFLAKE_PRIVATE_KEY_PATH,
    optional SNOWFLAKE_PRIVATE_KEY_PASSPHRASE) wins over SNOWFLAKE_PASSWORD, because
    dagster-snowflake refuses a config with both.
    """
    env = os.environ if environ is None else environ

    def is_set(name: str) -> bool:
        return bool(env.get(name, "").strip())

    missing = [name for name in _REQUIRED if not is_set(name)]
    auth: dict[str, Any]
    if is_set("SNOWFLAKE_PRIVATE_KEY"):
        auth = {"private_key": EnvVar("SNOWFLAKE_PRIVATE_KEY")}
    elif is_set("SNOWFLAKE_PRIVATE_KEY_PATH"):
        auth = {"private_key_path": EnvVar("SNOWFLAKE_PRIVATE_KEY_PATH")}
    elif is_set("SNOWFLAKE_PASSWORD"):
        auth = {"password": EnvVar("SNOWFLAKE_PASSWORD")}
    else:
        auth = {}
        missing.append("SNOWFLAKE_PRIVATE_KEY, SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_PASSWORD")
    if missing:
        raise SnowflakeConfigError(
            "Snowflake warehouse selected but these environment variables are not set: "
            + "; ".join(missing)
            + ". Key-pair auth (SNOWFLAKE_PRIVATE_KEY or SNOWFLAKE_PRIVATE_KEY_PATH, plus "
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if the key is encrypted) is used when set, else SNOWFLAKE_PASSWORD."
        )
    if "password" not in auth and is_set("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"):
        auth["private_key_password"] = EnvVar("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
    optional = {field: EnvVar(name) for field, name in _OPTIONAL.items() if is_set(name)}
    return {
        "account": EnvVar("SNOWFLAKE_ACCOUNT"),
        "user": EnvVar("SNOWFLAKE_USER"),
        "database": EnvVar("SNOWFLAKE_DATABASE"),
        **auth,
        **optional,
    }

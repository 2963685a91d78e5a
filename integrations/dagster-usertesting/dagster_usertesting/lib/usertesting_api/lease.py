"""Step leases: at most one API step per test at a time, whatever started it.

Runs from the CLI, the UI, a schedule or the sensor, under any DAGSTER_HOME, are separate processes
that Dagster's pools and run queue do not always see together; two of them syncing one test at once
fetch every new session twice. What they do share is the rate-limit store of their credential
(USERTESTING_RATE_LIMIT_STORE), so the lease lives there: a row in the same SQLite file, or a key in
the same Redis. Without a store the leases are shared by this process only.

A lease is held by one `hold()` (a unique token; the holder string only names it in messages), renewed
by a heartbeat while held, and released on exit. A holder that dies (kill -9, a host restart) stops
renewing, so its lease expires after the ttl and never blocks the test for good.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Protocol

from dagster_usertesting.lib.usertesting_api.errors import UserTestingError, UserTestingUnavailableError
from dagster_usertesting.lib.usertesting_api.rate_limit import (
    is_redis_url,
    redis_client,
    redis_unavailable,
    store_key,
)

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 120.0
# How often a waiting contender asks again; leases are held for minutes, so this costs nothing.
POLL_SECONDS = 0.2
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0


class StepBusyError(UserTestingError):
    """Another process holds this API step's lease: nothing was requested; try again later."""

    def __init__(self, name: str, holder: str, waited: float, ttl_seconds: float) -> None:
        waiting = f" after waiting {waited:g} s" if waited > 0 else ""
        super().__init__(
            f"The API step {name!r} is already running for {holder}{waiting}; nothing was requested from "
            "UserTesting. One API step per test runs at a time across every process sharing "
            "USERTESTING_RATE_LIMIT_STORE: this one can run once that finishes (a holder that crashed "
            f"lets go within {ttl_seconds:g} s)."
        )
        self.name = name
        self.holder = holder


class _LeaseStore(Protocol):
    def take(self, name: str, holder: str, token: str, ttl_seconds: float) -> str | None:
        """Take lease `name` for `token` unless someone else holds it: None when taken, else the holder."""

    def renew(self, name: str, token: str, ttl_seconds: float) -> bool:
        """Extend the lease if `token` still holds it; False when it was lost."""

    def release(self, name: str, token: str) -> None:
        """Let go of the lease if `token` still holds it."""

    def close(self) -> None: ...


class StepLeases:
    """Named, exclusive, self-expiring leases of one credential, shared through `store`."""

    def __init__(
        self, store: str | None, credential_key: str, ttl_seconds: float = DEFAULT_TTL_SECONDS
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be more than 0, got {ttl_seconds:g}.")
        self.ttl_seconds = ttl_seconds
        # The credential itself is never stored: leases are named by the limiter's hash of it.
        prefix = store_key(credential_key) + ":step-lease:"
        self._store: _LeaseStore
        if is_redis_url(store):
            self._store = _RedisLeases(str(store), prefix)
        elif store:
            self._store = _SQLiteLeases(store, prefix)
        else:
            self._store = _MemoryLeases(prefix)

    @contextmanager
    def hold(self, name: str, holder: str, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold lease `name` for `holder` (a run id, say) inside the block.

        Raises StepBusyError, having requested nothing, when another holder keeps it for longer than
        `wait_seconds`.
        """
        token = uuid.uuid4().hex
        deadline = time.monotonic() + max(0.0, wait_seconds)
        announced = False
        while (other := self._store.take(name, holder, token, self.ttl_seconds)) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepBusyError(name, other, max(0.0, wait_seconds), self.ttl_seconds)
            if not announced:
                log.info("Waiting up to %g s for the API step %r, held by %s.", wait_seconds, name, other)
                announced = True
            time.sleep(min(POLL_SECONDS, left))
        heartbeat = _Heartbeat(self._store, name, holder, token, self.ttl_seconds)
        try:
            yield
        finally:
            heartbeat.stop()
            try:
                self._store.release(name, token)
            except UserTestingUnavailableError as exc:
                # Raising here would hide the step's own outcome; the lease expires after the ttl.
                log.warning(
                    "Could not release the API step %r (%s); it expires within %g s.",
                    name,
                    exc,
                    self.ttl_seconds,
                )

    def close(self) -> None:
        self._store.close()


class _Heartbeat:
    """Renews a held lease every ttl/3, so only a holder that stopped running loses it."""

    def __init__(self, store: _LeaseStore, name: str, holder: str, token: str, ttl_seconds: float) -> None:
        self._store, self._name, self._holder, self._token = store, name, holder, token
        self._ttl = ttl_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-heartbeat-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._ttl / 3):
            try:
                if not self._store.renew(self._name, self._token, self._ttl):
                    # This process stalled past the ttl (or lost the store that long): another sync
                    # may have taken the step. Say so rather than keep quiet about a possible overlap.
                    log.warning(
                        "The API step lease %r of %s expired before it was renewed (this process or its "
                        "store stalled for more than %g s); another sync of the test may run meanwhile.",
                        self._name,
                        self._holder,
                        self._ttl,
                    )
                    return
            except UserTestingUnavailableError as exc:
                log.warning("Could not renew the API step lease %r: %s", self._name, exc)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def _encode(holder: str, token: str) -> str:
    return f"{token} {holder}"


def _holder(value: str | bytes) -> str:
    text = value.decode() if isinstance(value, bytes) else value
    return text.split(" ", 1)[1] if " " in text else text


# Compare-and-extend / compare-and-delete: only the hold that took the lease may renew or release it.
_RENEW_LUA = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class _RedisLeases:
    """A key per lease whose value is `token holder`, expiring on the Redis server's clock."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis_client(url)
        self._prefix = prefix
        self._renew = self._redis.register_script(_RENEW_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)

    def take(self, name: str, holder: str, token: str, ttl_seconds: float) -> str | None:
        key = self._prefix + name
        with self._errors():
            if self._redis.set(key, _encode(holder, token), nx=True, px=_ms(ttl_seconds)):
                return None
            current = self._redis.get(key)
        # Released between the two calls: busy for this attempt, the next one takes it.
        return _holder(current) if current is not None else "another process"

    def renew(self, name: str, token: str, ttl_seconds: float) -> bool:
        with self._errors():
            return bool(self._renew(keys=[self._prefix + name], args=[token, _ms(ttl_seconds)]))

    def release(self, name: str, token: str) -> None:
        with self._errors():
            self._release(keys=[self._prefix + name], args=[token])

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import redis

        try:
            yield
        except redis.RedisError as exc:
            raise redis_unavailable(exc) from exc

    def close(self) -> None:
        self._redis.close()


class _SQLiteLeases:
    """Rows (name, holder, token, expires_at) in the limiter's SQLite file, changed under BEGIN IMMEDIATE.

    Expiry is by this machine's clock, which every process sharing the file shares.
    """

    def __init__(self, path: str, prefix: str) -> None:
        self._path, self._prefix = path, prefix
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS step_leases ("
                "name TEXT PRIMARY KEY, holder TEXT NOT NULL, token TEXT NOT NULL, expires_at REAL NOT NULL)"
            )

    def take(self, name: str, holder: str, token: str, ttl_seconds: float) -> str | None:
        with self._transaction() as db:
            now = time.time()
            row = db.execute(
                "SELECT holder FROM step_leases WHERE name = ? AND expires_at > ? AND token != ?",
                (self._prefix + name, now, token),
            ).fetchone()
            if row is not None:
                return str(row[0])
            db.execute(
                "INSERT OR REPLACE INTO step_leases (name, holder, token, expires_at) VALUES (?, ?, ?, ?)",
                (self._prefix + name, holder, token, now + ttl_seconds),
            )
            return None

    def renew(self, name: str, token: str, ttl_seconds: float) -> bool:
        with self._transaction() as db:
            now = time.time()
            # Still this hold's row, even past its expiry: then nobody took the lease meanwhile.
            changed = db.execute(
                "UPDATE step_leases SET expires_at = ? WHERE name = ? AND token = ?",
                (now + ttl_seconds, self._prefix + name, token),
            ).rowcount
            return changed == 1

    def release(self, name: str, token: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM step_leases WHERE name = ? AND token = ?", (self._prefix + name, token))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # A connection per transaction: the heartbeat thread and the holder never share one.
        try:
            with closing(
                sqlite3.connect(self._path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, isolation_level=None)
            ) as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise UserTestingUnavailableError(
                f"The shared store in USERTESTING_RATE_LIMIT_STORE could not be used for step leases: {exc}."
            ) from exc

    def close(self) -> None:
        pass


# Without a store, leases are shared by every StepLeases of this process (several resources, threads).
_MEMORY: dict[str, tuple[str, str, float]] = {}
_MEMORY_LOCK = threading.Lock()


class _MemoryLeases:
    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def take(self, name: str, holder: str, token: str, ttl_seconds: float) -> str | None:
        key, now = self._prefix + name, time.monotonic()
        with _MEMORY_LOCK:
            current = _MEMORY.get(key)
            if current is not None and current[0] != token and current[2] > now:
                return current[1]
            _MEMORY[key] = (token, holder, now + ttl_seconds)
            return None

    def renew(self, name: str, token: str, ttl_seconds: float) -> bool:
        key, now = self._prefix + name, time.monotonic()
        with _MEMORY_LOCK:
            current = _MEMORY.get(key)
            if current is None or current[0] != token or current[2] <= now:
                return False
            _MEMORY[key] = (token, current[1], now + ttl_seconds)
            return True

    def release(self, name: str, token: str) -> None:
        key = self._prefix + name
        with _MEMORY_LOCK:
            if (current := _MEMORY.get(key)) is not None and current[0] == token:
                del _MEMORY[key]

    def close(self) -> None:
        pass


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))

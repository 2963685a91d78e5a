"""The raw landing area: every API response, kept durably the moment it arrives.

Layout under the object store (local folder or S3):

    raw/<test_id>/listing.json                               merged session listing (rewritten)
    raw/<test_id>/session_details/<session_id>/<stamp>.json  v3 payload exactly as served
    raw/<test_id>/session_details/<session_id>/<stamp>.rejected.json   malformed payload + error
    raw/<test_id>/transcripts/<session_id>/<stamp>.vtt       WebVTT exactly as served
    raw/<test_id>/transcripts/<session_id>/<stamp>.missing   the API had no transcript then
    raw/<test_id>/qx_scores/<stamp>.json                     QXscores payload
    raw/<test_id>/state/<name>.json                          sync bookkeeping (lib/sync/state.py)

Each response is landed before the next request, so a killed sync loses nothing it paid for, and
is never overwritten (the stamp doubles as `extracted_at`). What the warehouse holds is read from the
warehouse itself, so a run after a failed write (or a new warehouse) loads from here without API
requests. Objects are deleted only for sessions a deletion decision removed (`Listing.deleted`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dagster_usertesting.lib.ids import SessionId, TestId
from dagster_usertesting.lib.object_store import ObjectStore

_STAMP = "%Y%m%dT%H%M%S%fZ"
# Reads from S3 are latency-bound; a few in flight make re-reading a partition's payloads quick.
_READ_THREADS = 16


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_STAMP)


def parse_stamp(value: str) -> datetime:
    return datetime.strptime(value, _STAMP).replace(tzinfo=UTC)


@dataclass(frozen=True)
class LandedObject:
    session_id: str
    key: str
    received_at: datetime
    kind: str  # file suffix after the stamp: "json", "rejected.json", "vtt", "missing"


@dataclass
class Listing:
    """Every session the listing shows for a test, with the API's latest totalCount.

    A session leaves `sessions` only by a deletion decision (lib/sync/deletions.py), which records
    it in `deleted`: only those sessions' rows, payloads and videos are ever removed.
    """

    test_id: TestId
    total_count: int | None
    sessions: dict[str, dict[str, Any]]  # session_id -> summary as served, plus "_listed_at"
    reconciled_at: str | None = None  # when a walk last saw every page consistently
    deleted: dict[str, str] = field(default_factory=dict)  # session_id -> when removed (ISO)
    awaiting_deletion: dict[str, str] = field(default_factory=dict)  # unlisted, waiting to be confirmed

    def to_json(self) -> bytes:
        body = {
            "test_id": self.test_id,
            "total_count": self.total_count,
            "reconciled_at": self.reconciled_at,
            "sessions": self.sessions,
            "deleted": self.deleted,
            "awaiting_deletion": self.awaiting_deletion,
        }
        return json.dumps(body, ensure_ascii=False).encode()


class Landing:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    # -- listing ----------------------------------------------------------------------------------
    def read_listing(self, test_id: TestId) -> Listing:
        raw = self.store.get_bytes(self._test_prefix(test_id) + "listing.json")
        if raw is None:
            return Listing(test_id, None, {})
        body = json.loads(raw)
        sessions: dict[str, dict[str, Any]] = {
            SessionId(sid): summary for sid, summary in (body.get("sessions") or {}).items()
        }
        return Listing(
            test_id,
            body.get("total_count"),
            sessions,
            body.get("reconciled_at"),
            {SessionId(sid): at for sid, at in (body.get("deleted") or {}).items()},
            {SessionId(sid): at for sid, at in (body.get("awaiting_deletion") or {}).items()},
        )

    def write_listing(self, listing: Listing) -> None:
        self.store.put_bytes(
            self._test_prefix(listing.test_id) + "listing.json", listing.to_json(), "application/json"
        )

    # -- per-session responses --------------------------------------------------------------------
    def put_session_object(
        self, test_id: TestId, folder: str, session_id: str, kind: str, data: bytes, received_at: datetime
    ) -> LandedObject:
        key = self._session_prefix(test_id, folder, session_id) + f"{stamp(received_at)}.{kind}"
        self.store.put_bytes(key, data)
        return LandedObject(session_id, key, received_at, kind)

    def latest_by_session(self, test_id: TestId, folder: str) -> dict[str, list[LandedObject]]:
        """Landed objects per session under `folder`, newest first."""
        prefix = self._test_prefix(test_id) + f"{folder}/"
        found: dict[str, list[LandedObject]] = {}
        for key in self.store.list_keys(prefix):
            folder_name, _, name = key[len(prefix) :].partition("/")
            stamp_text, _, kind = name.partition(".")
            try:
                landed = LandedObject(SessionId(folder_name), key, parse_stamp(stamp_text), kind)
            except ValueError:
                continue  # not ours (a stray file): ignore rather than fail the sync
            found.setdefault(landed.session_id, []).append(landed)
        for objects in found.values():
            objects.sort(key=lambda o: o.received_at, reverse=True)
        return found

    def read_many(self, objects: Iterable[LandedObject]) -> list[tuple[LandedObject, bytes]]:
        objects = list(objects)
        with ThreadPoolExecutor(max_workers=_READ_THREADS) as pool:
            bodies = list(pool.map(lambda o: self.store.get_bytes(o.key), objects))
        return [(o, b) for o, b in zip(objects, bodies, strict=True) if b is not None]

    def landed_session_ids(self, test_id: TestId) -> set[str]:
        """Sessions whose details are landed (a readable payload, not only a rejected one)."""
        landed = self.latest_by_session(test_id, "session_details")
        return {sid for sid, objects in landed.items() if any(o.kind == "json" for o in objects)}

    def delete_sessions(self, test_id: TestId, folder: str, session_ids: Iterable[str]) -> int:
        """Remove every landed object of these sessions under `folder`; returns how many."""
        removed = 0
        for session_id in session_ids:
            for key in self.store.list_keys(self._session_prefix(test_id, folder, session_id)):
                self.store.delete(key)
                removed += 1
        return removed

    def delete_test(self, test_id: TestId) -> int:
        """Remove everything landed or archived for a test; returns how many objects."""
        test_id = TestId(test_id)
        keys = [*self.store.list_keys(f"raw/{test_id}/"), *self.store.list_keys(f"videos/{test_id}/")]
        for key in keys:
            self.store.delete(key)
        return len(keys)

    # -- sync bookkeeping -------------------------------------------------------------------------
    def read_state(self, test_id: TestId, name: str) -> dict[str, Any]:
        raw = self.store.get_bytes(self._state_key(test_id, name))
        return {} if raw is None else dict(json.loads(raw))

    def write_state(self, test_id: TestId, name: str, state: dict[str, Any]) -> None:
        body = json.dumps(state, ensure_ascii=False, sort_keys=True).encode()
        self.store.put_bytes(self._state_key(test_id, name), body, "application/json")

    @classmethod
    def _state_key(cls, test_id: TestId, name: str) -> str:
        return cls._test_prefix(test_id) + f"state/{name}.json"

    # -- per-test responses -----------------------------------------------------------------------
    def put_test_object(self, test_id: TestId, folder: str, data: bytes, received_at: datetime) -> str:
        key = self._test_prefix(test_id) + f"{folder}/{stamp(received_at)}.json"
        self.store.put_bytes(key, data, "application/json")
        return key

    def latest_test_object(self, test_id: TestId, folder: str) -> tuple[datetime, bytes] | None:
        prefix = self._test_prefix(test_id) + f"{folder}/"
        keys = sorted(k for k in self.store.list_keys(prefix) if k.endswith(".json"))
        if not keys:
            return None
        data = self.store.get_bytes(keys[-1])
        return None if data is None else (parse_stamp(keys[-1][len(prefix) :].partition(".")[0]), data)

    @classmethod
    def _session_prefix(cls, test_id: TestId, folder: str, session_id: str) -> str:
        return cls._test_prefix(test_id) + f"{folder}/{SessionId(session_id)}/"

    @staticmethod
    def _test_prefix(test_id: TestId) -> str:
        # Every key of a test starts here. Free for a TestId; anything else is matched, so a raw
        # string passed by mistake still cannot reach a key.
        return f"raw/{TestId(test_id)}/"

"""The details step of a test's sync: fetch each session's v3 result once, land it, normalize it.

Each body is normalized as it arrives (`session_rows`: the served text for session_details, row
tuples for the four tables parsed from it), before it lands; the result carries the writes of every
table, framed from those tuples, for the asset to write in one transaction.

A failing session (404, 5xx, an unreadable body) is recorded and backed off (retries.py), never
removed; the rest land. A 404 is a question (revocation.py): if the test itself no longer answers
(access revoked mid-run) the run stops without marking any session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import LandedObject, Landing, utc_now
from dagster_usertesting.lib.normalize import SESSION_TABLES, SessionRows, details_frames, session_rows
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import SESSION_DETAILS, TASK_GROUPS, Table
from dagster_usertesting.lib.sync import retries
from dagster_usertesting.lib.sync.retries import Failure, RetryPolicy
from dagster_usertesting.lib.sync.revocation import NotFound, NotFoundEvidence
from dagster_usertesting.lib.sync.state import DETAILS, SyncState
from dagster_usertesting.lib.sync_policy import TableChanges, consecutive_failures_exceeded, table_changes
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.errors import (
    UserTestingError,
    UserTestingNotFoundError,
    UserTestingUnavailableError,
)
from dagster_usertesting.lib.warehouse import TableWrite, WarehouseClient

FOLDER = "session_details"
_GROUP_TYPE = TASK_GROUPS.column_names.index("task_group_type")


@dataclass(frozen=True)
class DetailsOptions:
    retry: RetryPolicy
    full: bool = False
    rebuild: bool = False
    retry_failed: bool = False


@dataclass
class DetailsResult:
    writes: list[TableWrite]  # one per SESSION_TABLES table, for one `write_many` transaction
    written: set[str]
    changes: TableChanges
    current: dict[str, datetime]
    fetched: int
    failures: dict[str, Failure]  # every session failing now, with its record
    failed_now: dict[str, str] = field(default_factory=dict)  # failed in this run: session -> error
    fatal: UserTestingError | None = None

    def frame(self, table: Table) -> pd.DataFrame:
        """The rows written to `table`."""
        return next(w.rows for w in self.writes if w.table is table)


def details_writes(sessions: Sequence[SessionRows], replaced: frozenset[str] | None) -> list[TableWrite]:
    """The writes of these sessions' rows to every table of SESSION_TABLES: `replaced` are the
    sessions whose rows they replace (None: the test's whole partition, as a rebuild does)."""
    frames = details_frames(sessions)
    return [TableWrite(table, frames[table.name], replaced) for table in SESSION_TABLES]


def sync_details(
    test_id: TestId,
    client: UserTestingClient,
    landing: Landing,
    warehouse: WarehouseClient,
    options: DetailsOptions,
    start_progress: Callable[[int], SyncProgress],
    may_land: Callable[[], bool] = lambda: True,
) -> DetailsResult:
    started = utc_now()
    listing = landing.read_listing(test_id)
    state = SyncState(landing, test_id)
    failures = state.failures(DETAILS)
    all_landed = landing.latest_by_session(test_id, FOLDER)
    # Only sessions a deletion decision removed lose their payloads.
    landing.delete_sessions(test_id, FOLDER, all_landed.keys() & listing.deleted.keys())
    landed = {
        sid: obj
        for sid, objs in all_landed.items()
        if sid not in listing.deleted and (obj := _latest_valid(objs)) is not None
    }
    to_fetch = [
        sid
        for sid in listing.sessions
        if (sid not in landed or (options.full and landed[sid].received_at < started))
        and (
            options.full
            or retries.ask_now(failures.get(sid), started, options.retry, retry_failed=options.retry_failed)
        )
    ]
    normalized: dict[str, SessionRows] = {}
    failed_now: dict[str, str] = {}
    fatal: UserTestingError | None = None
    unavailable_in_a_row = 0
    evidence = NotFoundEvidence(client, test_id, "details")

    def mark_not_found(confirmed: list[NotFound]) -> None:
        for nf in confirmed:
            failures[nf.session_id] = retries.failed(
                failures.get(nf.session_id), nf.at, nf.error, not_found=True
            )
            failed_now[nf.session_id] = nf.error
        if confirmed:
            state.save_failures(DETAILS, failures)

    progress = start_progress(len(to_fetch))
    for session_id in to_fetch:
        progress.advance()
        if not may_land():
            break  # the test was forgotten while this run was going: land nothing more of it
        try:
            raw = client.get_session_details_raw(session_id)
        except UserTestingNotFoundError as exc:
            confirmed, fatal = evidence.not_found(session_id, utc_now(), str(exc))
            mark_not_found(confirmed)
            if fatal is not None:
                break
            continue
        except UserTestingUnavailableError as exc:
            failures[session_id] = retries.failed(failures.get(session_id), utc_now(), str(exc))
            failed_now[session_id] = str(exc)
            state.save_failures(DETAILS, failures)
            unavailable_in_a_row += 1
            # Several in a row mean the API is down, not that these sessions are bad: stop asking.
            if consecutive_failures_exceeded(unavailable_in_a_row):
                fatal = exc
                break
            continue
        except UserTestingError as exc:  # credentials, budget, bad request: no session would succeed
            fatal = exc
            break
        unavailable_in_a_row = 0
        mark_not_found(evidence.answered())
        received_at = utc_now()
        try:
            normalized[session_id] = session_rows(test_id, session_id, raw, received_at)
        except ValueError as exc:  # MalformedPayloadError: not UTF-8, not JSON, too deep, not an object
            # Kept for diagnosis, not counted as landed, asked again on the failing sessions' schedule.
            envelope = {"error": str(exc), "body": raw.decode("utf-8", errors="replace")}
            landing.put_session_object(
                test_id, FOLDER, session_id, "rejected.json", json.dumps(envelope).encode(), received_at
            )
            failures[session_id] = retries.failed(failures.get(session_id), received_at, str(exc))
            failed_now[session_id] = str(exc)
            state.save_failures(DETAILS, failures)
            continue
        landed[session_id] = landing.put_session_object(test_id, FOLDER, session_id, "json", raw, received_at)
        if failures.pop(session_id, None) is not None:
            state.save_failures(DETAILS, failures)
    if fatal is None:
        confirmed, fatal = evidence.settle()
        mark_not_found(confirmed)
    progress.finish()
    # Sessions removed upstream take their failure records with them, and a landed session has none
    # (a run killed between landing it and clearing its record leaves one behind).
    failures = {s: f for s, f in failures.items() if s not in listing.deleted and s not in landed}
    state.save_failures(DETAILS, failures)
    if any(g[_GROUP_TYPE] == "QX_SCORE" for rows in normalized.values() for g in rows[TASK_GROUPS.name]):
        state.note_qx_score_groups()

    fetched = len(normalized)
    current = {sid: obj.received_at for sid, obj in landed.items()}
    changes = table_changes(
        current, warehouse.session_versions(SESSION_DETAILS, test_id), listing.deleted.keys()
    )
    written = set(current) if options.rebuild else set(changes.write)
    # Landed by an earlier run whose write did not commit (killed, warehouse down, a new warehouse),
    # or a rebuild: normalized from the landing area, without asking the API again.
    pending = [landed[sid] for sid in written - normalized.keys()]
    for obj, body in landing.read_many(pending):
        try:
            normalized[obj.session_id] = session_rows(test_id, obj.session_id, body, obj.received_at)
        except ValueError as exc:
            failed_now[obj.session_id] = str(exc)
            del current[obj.session_id]
    written &= current.keys()
    replaced = None if options.rebuild else frozenset(written | changes.delete)
    writes = details_writes([normalized[sid] for sid in sorted(written)], replaced)
    return DetailsResult(writes, written, changes, current, fetched, failures, failed_now, fatal)


def _latest_valid(objects: list[LandedObject]) -> LandedObject | None:
    return next((o for o in objects if o.kind == "json"), None)

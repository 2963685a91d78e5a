"""The sync engine against a reference model of the API: random months of one test (issue 16, Proof).

A hypothesis state machine drives lib/sync's steps directly (listing, then details and transcripts, each
followed by the warehouse writes its asset makes, in the same order) over an in-process sandbox, a
DuckDB file and a local landing area, while the API misbehaves: sessions arrive, are deleted (also
between two pages of a walk) and restored, listing answers come empty, short, miscounted or renamed,
pages shift under new arrivals, sessions answer 404 once or 503 for a while, the test is revoked and
restored, and a sync is killed (as by kill -9) before any write to the landing area or the warehouse.

The model sees what the API really answered (a spy on the sandbox's routes) and judges each walk of the
listing by the issue's definition of a consistent, complete one; after every sync it checks:

1. A session listed by every consistent walk since it was last listed is held: in the landing area's
   listing, and after a successful sync in raw_sessions, and landed and in session_details and sessions
   unless it is failing (a failure record that the request log explains). The sessions held and those
   waiting for a second walk are exactly the model's.
2. A session absent from a consistent walk is removed when that walk may remove it (within the
   allowance) or when a second consistent walk, `confirm_hours` later, agrees; then, after a
   successful sync, no table and no landed object holds it.
3. No details or transcript request is made for a session whose answer is landed, unless `full`, and
   no session is asked twice in a sync.
4. A failure record never counts more failures than the request log shows, a quarantined (or backing
   off) session is not asked again without `retry_failed` or `full`, and an answer given while the
   test was revoked marks no session.

Time does not advance: the policies drawn are the two ends of each clock (confirm at once or never,
retry at once or not for hours), which the engine's wall clock decides the same way on any machine.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.normalize import to_frame
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import (
    DEMOGRAPHICS,
    RAW_SESSIONS,
    SESSION_DETAILS,
    SESSIONS,
    TASK_GROUPS,
    TASKS,
    TRANSCRIPT_CHUNKS,
    TRANSCRIPTS,
    Table,
)
from dagster_usertesting.lib.sync.deletions import DeletionPolicy
from dagster_usertesting.lib.sync.details_step import DetailsOptions, sync_details
from dagster_usertesting.lib.sync.listing_step import ListingOptions, ListingResult, sync_listing
from dagster_usertesting.lib.sync.retries import Failure, RetryPolicy
from dagster_usertesting.lib.sync.state import DETAILS, TRANSCRIPT, SyncState
from dagster_usertesting.lib.sync.transcripts_step import TranscriptOptions, sync_transcripts
from dagster_usertesting.lib.usertesting_api.errors import UserTestingError
from dagster_usertesting.lib.warehouse import TableWrite
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse
from dagster_usertesting.testing import THINK_OUT_LOUD, SandboxConfig, SandboxServer, StudySpec
from dagster_usertesting.testing.faults import LISTING_FAULTS
from dagster_usertesting.testing.in_process import in_process_resource
from dagster_usertesting.testing.routes import route

PAGE_SIZE = 3  # small pages: every walk has several, so faults and deletions can fall between them
FIRST_SESSIONS = 7
NEVER_HOURS = 1_000_000.0  # a clock that does not run out during a test
# Every table that holds a session's rows.
SESSION_TABLES = (RAW_SESSIONS, SESSION_DETAILS, SESSIONS, DEMOGRAPHICS, TASK_GROUPS, TASKS)
TRANSCRIPT_TABLES = (TRANSCRIPTS, TRANSCRIPT_CHUNKS)
LOG = logging.getLogger("ut_dagster_tests.engine_model")
# Where the engine falls short of an invariant today, each pinned by an xfail test in
# test_engine_revocation.py: the model tolerates exactly that case until the gap is closed (then
# delete it here, and the model enforces it).
KNOWN_GAPS: frozenset[str] = frozenset()


class Killed(BaseException):
    """kill -9 of the process running a sync: nothing after it runs, nothing catches it."""


class Fuse:
    """Kills the sync before its n-th write (landing area or warehouse) from now."""

    def __init__(self, writes_before_kill: int | None) -> None:
        self.left = writes_before_kill

    def before_write(self) -> None:
        if self.left is None:
            return
        if self.left == 0:
            self.left = None
            raise Killed
        self.left -= 1


class KillableStore:
    """The landing area's store, which a Fuse can kill before any write; records what it wrote."""

    def __init__(self, store: LocalObjectStore, fuse: Fuse) -> None:
        self._store, self._fuse = store, fuse
        self.written: list[str] = []

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._fuse.before_write()
        self._store.put_bytes(key, data, content_type)
        self.written.append(key)

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str | None = None) -> Any:
        self._fuse.before_write()
        stored = self._store.put_stream(key, chunks, content_type)
        self.written.append(key)
        return stored

    def delete(self, key: str) -> None:
        self._fuse.before_write()
        self._store.delete(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@dataclass(frozen=True)
class Answer:
    """One API answer as the sandbox really gave it."""

    endpoint: str
    session_id: str | None
    status: int
    revoked: bool  # the test was revoked when the request arrived
    offset: int = 0  # listing answers: what the page held
    served: int = 0
    ids: tuple[str, ...] = ()  # the items keyed "sessionId" (the rest the client cannot read)
    total: int = 0


class RoutesSpy:
    """Records every answer of the sandbox's API routes (the request log has no bodies)."""

    def __init__(self, sandbox: SandboxServer, test_id: str) -> None:
        self._routes, self._dataset, self._test_id = sandbox.app.routes, sandbox.dataset, test_id
        self.answers: list[Answer] = []

    def handle(self, request: Any) -> Any:
        endpoint, item = route(request.path)
        revoked = self._dataset.revoked_status(self._test_id) is not None
        response = self._routes.handle(request)
        if endpoint == "list_sessions" and response.status == 200:
            body = json.loads(response.body)
            items, paging = body["sessions"], body["meta"]["pagination"]
            ids = tuple(i["sessionId"] for i in items if "sessionId" in i)
            answer = Answer(
                endpoint, None, 200, revoked, paging["offset"], len(items), ids, paging["totalCount"]
            )
        else:
            answer = Answer(endpoint, (item or "").lower() or None, response.status, revoked)
        self.answers.append(answer)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._routes, name)


def consistent_and_complete(pages: list[Answer]) -> bool:
    """The issue's definition, applied to what was served: the pages add up to the totalCount each
    reported, the count never moved, no empty or short page before the end, every item readable."""
    if not pages or len({p.total for p in pages}) > 1:
        return False
    total, largest, offset = pages[0].total, max(p.served for p in pages), 0
    for page in pages:
        if page.offset != offset or page.served != len(page.ids):
            return False
        offset += page.served
        if offset < total and (page.served < largest or page.served == 0):
            return False
    return offset == total and len({i for p in pages for i in p.ids}) == total


@dataclass(frozen=True)
class Flags:
    reconcile: bool = False
    full: bool = False
    retry_failed: bool = False


@dataclass
class SyncRun:
    flags: Flags
    answers: list[Answer] = field(default_factory=list)  # every API answer of the sync
    walk: list[Answer] = field(default_factory=list)  # the listing step's listing pages
    listing_answers: int = 0  # answers of the listing step (the first of `answers`)
    listing: ListingResult | None = None  # when the listing step returned
    listing_pages_landed: int = 0
    killed: bool = False
    completed: bool = False  # every step returned without a fatal error and every write committed


@dataclass(frozen=True)
class Before:
    """What the landing area held when a sync started."""

    details: set[str]  # sessions with a readable payload landed
    transcripts: set[str]  # sessions with a transcript, or a "none yet" answer, landed
    transcript_objects: Counter[str]  # session -> transcript answers landed
    failures: dict[str, dict[str, Failure]]


def _event(kind: str, *params: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.tuples(st.just(kind), st.tuples(*params))


# What can happen upstream between two syncs (EngineModel has a `_<kind>` method for each).
EVENTS = st.one_of(
    _event("arrive", st.integers(1, 3)),
    _event("delete", st.integers(1, 4)),
    _event("delete", st.integers(1, 2)),
    _event("restore", st.integers(0, 50)),
    _event("listing_answers", *[st.sampled_from(LISTING_FAULTS)] * 2),
    _event("deleted_after_page", st.integers(1, 3), st.integers(1, 2)),
    _event("listing_count_bias", st.sampled_from([-1, -3, 2])),
    _event("arrivals_while_paging"),
    _event(
        "session_fails",
        st.sampled_from(["404x1", "404x2", "503x1", "503x3", "503"]),
        st.sampled_from(["session_details", "session_details", "transcript"]),
        st.integers(0, 50),
    ),
    _event("revoke", st.sampled_from([404, 401]), st.integers(1, 2)),
    _event(
        "revoke_after",
        st.integers(1, 8),
        st.sampled_from([404, 401]),
        st.sampled_from([None, "list_sessions", "session_details", "transcript"]),
    ),
)
FLAGS = st.builds(
    Flags,
    reconcile=st.booleans(),
    full=st.integers(0, 5).map(lambda n: n == 0),
    retry_failed=st.integers(0, 3).map(lambda n: n == 0),
)
# kill -9 before the n-th write of the sync, in about a third of them
KILL = st.integers(0, 89).map(lambda n: n if n < 30 else None)


def allowance(policy: DeletionPolicy, held: int) -> int:
    """The model's own reading of the issue: 10% or 50 sessions (settings), at least one."""
    return max(1, min(policy.max_sessions, math.floor(policy.max_share * held)))


class EngineModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="engine-model-"))
        config = SandboxConfig(
            studies=(StudySpec(THINK_OUT_LOUD, FIRST_SESSIONS),),
            legacy_studies=0,
            requests_per_window=5000,
            window_seconds=1.0,
        )
        self.sandbox = SandboxServer(config).start()
        self.test_id = TestId(self.sandbox.test_ids[0])
        self.spy = RoutesSpy(self.sandbox, self.test_id)
        self.sandbox.app.routes = self.spy  # type: ignore[assignment]
        self.resource = in_process_resource(
            self.sandbox,
            client_id=config.client_id,
            client_secret=config.client_secret,
            requests_per_minute=config.requests_per_window,
            rate_window_seconds=config.window_seconds,
            rate_limit_store=str(self.tmp / "rate-limit.sqlite"),
            page_size=PAGE_SIZE,
            max_retries=0,  # one request per attempt: the log counts what the engine asked
        )
        self.store = LocalObjectStore(self.tmp / "landing")
        self.landing = Landing(self.store)
        self.warehouse = DuckDBWarehouse(self.tmp / "warehouse.duckdb")
        # One connection for the whole example (connecting costs more than a small write); each write
        # is still its own transaction, so a kill between two writes leaves the first committed.
        self.warehouse.__enter__()
        # The model: what the engine must hold, what waits for a second walk, what was removed.
        self.held: set[str] = set()
        self.awaiting: set[str] = set()
        self.removed: set[str] = set()
        self.streaks: Counter[tuple[str, str]] = Counter()  # (endpoint, session): failures in a row
        self.forgiven: set[tuple[str, str]] = set()  # asked again while quarantined (retry_failed/full)
        self.deletions = DeletionPolicy()
        self.retry = RetryPolicy()
        self.revoked_syncs = 0
        self.failing_for: dict[tuple[str, str], int | None] = {}  # 503s: syncs left (None: for good)

    def teardown(self) -> None:
        self.warehouse.close()
        self.resource.close()
        self.sandbox.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- policies -----------------------------------------------------------------------------------

    @initialize(
        max_share=st.sampled_from([0.1, 0.3]),
        max_sessions=st.sampled_from([1, 50]),
        confirm_at_once=st.booleans(),
        retry_at_once=st.booleans(),
        quarantine_after=st.integers(2, 3),
        page_cap=st.sampled_from([PAGE_SIZE, PAGE_SIZE - 1]),
    )
    def policies(
        self,
        max_share: float,
        max_sessions: int,
        confirm_at_once: bool,
        retry_at_once: bool,
        quarantine_after: int,
        page_cap: int,
    ) -> None:
        self.deletions = DeletionPolicy(max_share, max_sessions, 0.0 if confirm_at_once else NEVER_HOURS)
        minutes = 0.0 if retry_at_once else NEVER_HOURS * 60
        self.retry = RetryPolicy(first_retry_minutes=minutes, quarantine_after=quarantine_after)
        # A server that caps pages below what is asked for (the client asks for PAGE_SIZE).
        self.sandbox.configure(max_page_size=page_cap)

    # -- a period: what happens upstream, then a sync ------------------------------------------------

    @rule(events=st.lists(EVENTS, max_size=3), flags=FLAGS, writes_before_kill=KILL)
    def period(self, events: list[tuple[str, Any]], flags: Flags, writes_before_kill: int | None) -> None:
        """Things happen upstream, then a sync runs, killed (as by kill -9) before its n-th write or not.

        One rule, so that every step syncs: the next sync after a kill must recover, spending nothing
        twice."""
        for kind, value in events:
            getattr(self, f"_{kind}")(*value)
        self._sync(flags, writes_before_kill)

    def live(self) -> list[str]:
        return self.sandbox.dataset.session_ids(self.test_id)

    def _arrive(self, count: int) -> None:
        self.sandbox.add_sessions(self.test_id, count)

    def _delete(self, count: int) -> None:
        if self.live():
            self.sandbox.dataset.delete_sessions(test_id=self.test_id, count=count)

    def _restore(self, pick: int) -> None:
        if deleted := self.sandbox.dataset.deleted_session_ids(self.test_id):
            self.sandbox.restore_sessions([deleted[pick % len(deleted)]])

    def _listing_answers(self, *faults: str) -> None:
        self.sandbox.listing_faults(self.test_id, *faults)

    def _deleted_after_page(self, page: int, count: int) -> None:
        self.sandbox.delete_after_page(self.test_id, page=page, count=count)

    def _listing_count_bias(self, bias: int) -> None:
        """The next sync's listing reports a totalCount this far off (then the truth again)."""
        if (
            bias > 0
            and self.sandbox.config.arrivals_per_list_request
            and "walk_outpaced_by_arrivals" in KNOWN_GAPS
        ):
            return
        self.sandbox.configure(listing_count_bias=bias)

    def _arrivals_while_paging(self) -> None:
        """During the next sync a session arrives before every listing answer: pages shift."""
        if self.sandbox.config.listing_count_bias > 0 and "walk_outpaced_by_arrivals" in KNOWN_GAPS:
            return
        self.sandbox.configure(arrivals_per_list_request=1)

    def _session_fails(self, fault: str, endpoint: str, pick: int) -> None:
        """A session answers 404 once or twice, or 503 for 1 or 3 syncs or for good: one not landed
        yet (a new one arrives for it when all are), since a landed one is never asked again."""
        folder = "session_details" if endpoint == "session_details" else "transcripts"
        landed = set(self.landing.latest_by_session(self.test_id, folder))
        candidates = [s for s in self.live() if s not in landed] or self.sandbox.add_sessions(self.test_id, 1)
        session_id = candidates[pick % len(candidates)]
        if fault.startswith("404"):
            self.sandbox.transient_not_found(session_id, times=int(fault[-1]), endpoint=endpoint)
            return
        name = "failing_session_ids" if endpoint == "session_details" else "failing_transcript_ids"
        self.sandbox.configure(**{name: frozenset({*getattr(self.sandbox.config, name), session_id})})
        self.failing_for[(name, session_id)] = int(fault[-1]) if "x" in fault else None

    def _revoke(self, status: int, syncs: int) -> None:
        """The test is revoked for the next `syncs` syncs."""
        self.sandbox.revoke_test(self.test_id, status)
        self.revoked_syncs = syncs

    def _revoke_after(self, requests: int, status: int, endpoint: str | None) -> None:
        """The test is revoked after `requests` more answers (of `endpoint`), until that sync ends."""
        self.sandbox.revoke_after(self.test_id, requests, status, endpoint=endpoint)

    def _after_sync(self) -> None:
        """What lasted one sync is over: a wrong count, arrivals while paging; a revocation or a
        session's 503s may last longer."""
        self.sandbox.configure(listing_count_bias=0, arrivals_per_list_request=0)
        for (name, session_id), syncs in list(self.failing_for.items()):
            if syncs is not None:
                self.failing_for[(name, session_id)] = syncs - 1
            if syncs == 1:
                del self.failing_for[(name, session_id)]
                self.sandbox.configure(**{name: frozenset(getattr(self.sandbox.config, name)) - {session_id}})
        self.revoked_syncs = max(0, self.revoked_syncs - 1)
        if not self.revoked_syncs:
            self.sandbox.restore_test(self.test_id)

    def _sync(self, flags: Flags, writes_before_kill: int | None) -> None:
        before = self._before()
        held_before = set(self.held)
        run = SyncRun(flags)
        store = KillableStore(self.store, Fuse(writes_before_kill))
        mark = len(self.spy.answers)
        try:
            self._steps(run, store)
        except Killed:
            run.killed = True
        run.answers = self.spy.answers[mark:]
        self._after_sync()
        self._judge_walk(run, held_before)
        self._check(run, before)
        self._note_coverage(run)

    def _note_coverage(self, run: SyncRun) -> None:
        """What the example exercised (pytest --hypothesis-show-statistics)."""
        if not currently_in_test_context():
            return  # a replay of steps outside hypothesis
        outcome = "killed" if run.killed else "completed" if run.completed else "failed"
        event(
            f"sync {outcome}; listing {'decided' if run.listing and run.listing.walked_all else 'not decided'}"
        )
        if run.listing is not None and run.listing.decision.delete:
            event("sessions removed")
        if self.awaiting:
            event("sessions awaiting a second walk")
        failures = SyncState(self.landing, self.test_id).all_failures()
        if any(
            f.count >= self.retry.quarantine_after for records in failures.values() for f in records.values()
        ):
            event("a session quarantined")
        if any(records for records in failures.values()):
            event("a session failing")

    def _steps(self, run: SyncRun, store: KillableStore) -> None:
        """What one Dagster run of the test does: raw_sessions, then session_tables and
        transcript_tables (each writes its outputs in order, then fails on a fatal error)."""
        flags, landing, client = run.flags, Landing(store), self.resource.get_client()
        fuse = store._fuse

        def write(table: Table, rows: list[dict[str, Any]], sessions: frozenset[str]) -> None:
            fuse.before_write()
            self.warehouse.write(self.test_id, TableWrite(table, to_frame(table, rows), sessions))

        def progress(step: str):
            return lambda todo: SyncProgress(LOG, self.test_id, step, todo, client.stats)

        mark = len(self.spy.answers)
        listing_key = f"raw/{self.test_id}/listing.json"
        try:
            options = ListingOptions(
                reconcile_hours=NEVER_HOURS,  # only the flags, suspects and confirmations walk it all
                deletions=self.deletions,
                full=flags.full,
                reconcile=flags.reconcile,
            )
            run.listing = sync_listing(self.test_id, client, landing, self.warehouse, options)
        except UserTestingError:
            return  # the run fails at its first step; nothing else runs
        finally:
            run.listing_answers = len(self.spy.answers) - mark
            run.walk = [
                a for a in self.spy.answers[mark:] if a.endpoint == "list_sessions" and a.status == 200
            ]
            run.listing_pages_landed = store.written.count(listing_key)
        write(RAW_SESSIONS, run.listing.rows, run.listing.changes.sessions)

        ok = True
        details_options = DetailsOptions(self.retry, full=flags.full, retry_failed=flags.retry_failed)
        try:
            details = sync_details(
                self.test_id, client, landing, self.warehouse, details_options, progress("details")
            )
        except UserTestingError:
            ok = False
        else:
            fuse.before_write()
            self.warehouse.write_many(self.test_id, details.writes)  # one transaction, as the asset
            ok = ok and details.fatal is None
        transcript_options = TranscriptOptions(self.retry, full=flags.full, retry_failed=flags.retry_failed)
        try:
            transcripts = sync_transcripts(
                self.test_id, client, landing, self.warehouse, transcript_options, progress("transcripts")
            )
        except UserTestingError:
            ok = False
        else:
            sessions = frozenset(transcripts.written | transcripts.changes.delete)
            write(TRANSCRIPT_CHUNKS, transcripts.chunks, sessions)
            write(TRANSCRIPTS, transcripts.transcripts, sessions)
            ok = ok and transcripts.fatal is None
        run.completed = ok

    # -- the model ----------------------------------------------------------------------------------

    def _judge_walk(self, run: SyncRun, held: set[str]) -> None:
        """What the engine must hold now, given what the listing step saw and whether it finished."""
        if run.listing is None:
            # Killed or refused mid-walk: the pages landed before that are added, nothing is decided.
            seen = {i for page in run.walk[: run.listing_pages_landed] for i in page.ids}
            self.held |= seen
            self.removed -= seen
            return
        seen = {i for page in run.walk for i in page.ids}
        stopped_early = run.listing.progress.stopped_early
        assert not (stopped_early and (run.flags.reconcile or run.flags.full)), (
            "a reconcile walk stopped early"
        )
        complete = consistent_and_complete(run.walk) and not stopped_early
        assert run.listing.walked_all == complete, (
            f"the engine judged a walk {'complete' if run.listing.walked_all else 'incomplete'}, the model "
            f"{'complete' if complete else 'incomplete'}: {run.walk}"
        )
        if not complete:
            self.held |= seen
            self.removed -= seen
            return
        absent = held - seen
        confirmed = absent & self.awaiting if self.deletions.confirm_hours == 0 else set()
        if len(absent - confirmed) <= allowance(self.deletions, len(held)):
            gone, self.awaiting = absent, set()
        else:
            gone, self.awaiting = confirmed, absent - confirmed
        self.held = (held - gone) | seen
        self.removed = (self.removed | gone) - seen

    def _before(self) -> Before:
        state = SyncState(self.landing, self.test_id)
        transcripts = self.landing.latest_by_session(self.test_id, "transcripts")
        return Before(
            self.landing.landed_session_ids(self.test_id),
            {s for s, objs in transcripts.items() if any(o.kind in ("vtt", "missing") for o in objs)},
            Counter({s: len(objs) for s, objs in transcripts.items()}),
            {endpoint: state.failures(endpoint) for endpoint in (DETAILS, TRANSCRIPT)},
        )

    # -- the invariants -----------------------------------------------------------------------------

    def _check(self, run: SyncRun, before: Before) -> None:
        listing = self.landing.read_listing(self.test_id)
        # 1 and 2, in the landing area: exactly the model's sessions are held, and wait.
        assert set(listing.sessions) == self.held, (
            f"held by the engine but not the model: {set(listing.sessions) - self.held}; "
            f"held by the model but not the engine: {self.held - set(listing.sessions)}"
        )
        assert set(listing.awaiting_deletion) == self.awaiting, (
            f"waiting for a second walk: the engine {set(listing.awaiting_deletion)}, the model {self.awaiting}"
        )
        self._check_requests(run, before)
        self._check_failures(run, before)
        if run.completed:
            self._check_warehouse(run)

    def _check_requests(self, run: SyncRun, before: Before) -> None:
        """3: nothing landed is asked for again (but under `full`), no session twice in a sync."""
        for endpoint, landed in (("session_details", before.details), ("transcript", before.transcripts)):
            asked = Counter(a.session_id for a in run.answers if a.endpoint == endpoint and a.status != 401)
            twice = {s for s, n in asked.items() if n > 1}
            # (A 401 is asked once more, with a renewed token, by the client: not the engine's doing.)
            assert not twice, f"{endpoint} asked twice in one sync for {twice}"
            if not run.flags.full:
                again = {a.session_id for a in run.answers if a.endpoint == endpoint} & landed
                assert not again, f"{endpoint} asked again for {again}, already landed"

    def _check_failures(self, run: SyncRun, before: Before) -> None:
        """4: the retry policy, against the request log; and a revoked test's answers mark nothing."""
        after = {e: SyncState(self.landing, self.test_id).failures(e) for e in (DETAILS, TRANSCRIPT)}
        endpoints = {"session_details": DETAILS, "transcript": TRANSCRIPT}
        revoked_only: dict[tuple[str, str], bool] = {}
        after_a_probe: set[tuple[str, str]] = set()
        probed = False  # a probe of the listing (after the walk) found the test answering
        for index, answer in enumerate(run.answers):
            if index >= run.listing_answers and answer.endpoint == "list_sessions" and answer.status == 200:
                probed = True
            state_name = endpoints.get(answer.endpoint)
            if state_name is None or answer.session_id is None:
                continue
            key = (state_name, answer.session_id)
            previous = before.failures[state_name].get(answer.session_id)
            quarantined = previous is not None and previous.count >= self.retry.quarantine_after
            if run.flags.full or run.flags.retry_failed:
                if quarantined:
                    self.forgiven.add(key)
            else:
                assert not quarantined, f"{key} asked while quarantined ({previous})"
                assert previous is None or self.retry.first_retry_minutes == 0, (
                    f"{key} asked before its retry was due ({previous})"
                )
            revoked_only[key] = revoked_only.get(key, True) and answer.revoked
            if answer.revoked and probed:
                after_a_probe.add(key)
            if answer.revoked:
                # Says nothing about the session: neither a failure nor a success, so a failure
                # recorded before the revocation still stands (seen: a 401 reset the streak to 0).
                continue
            failed = answer.status >= 500 or (answer.status == 404 and state_name == DETAILS)
            self.streaks[key] = self.streaks[key] + 1 if failed else 0
        for state_name, records in after.items():
            for session_id, record in records.items():
                key = (state_name, session_id)
                if run.killed and self.streaks[key] == 0:
                    continue  # killed between landing it and clearing its record: the next run clears it
                assert record.count <= self.streaks[key], (
                    f"{key} counts {record.count} failures, the log shows {self.streaks[key]} in a row"
                )
                if key not in self.forgiven:
                    assert record.count <= self.retry.quarantine_after, f"{key} failed past quarantine"
                was = before.failures[state_name].get(session_id)
                if revoked_only.get(key) and (was is None or was.count != record.count):
                    tolerated = "details_revoked_after_a_probe" in KNOWN_GAPS and key in after_a_probe
                    assert tolerated, f"{key} marked failing on an answer given while the test was revoked"
        if "transcripts_revoked" not in KNOWN_GAPS:
            landed = self.landing.latest_by_session(self.test_id, "transcripts")
            for (state_name, session_id), revoked in revoked_only.items():
                if state_name == TRANSCRIPT and revoked:
                    assert len(landed.get(session_id, [])) == before.transcript_objects[session_id], (
                        f"a revoked test's answer landed as the transcript of {session_id}"
                    )

    def _check_warehouse(self, run: SyncRun) -> None:
        """1 and 2 after a successful sync: the warehouse and the landing area agree with the model."""
        rows = {t.name: self._session_ids(t) for t in (*SESSION_TABLES, *TRANSCRIPT_TABLES)}
        landed = self.landing.landed_session_ids(self.test_id)
        transcripts = {
            s
            for s, objs in self.landing.latest_by_session(self.test_id, "transcripts").items()
            if any(o.kind == "vtt" for o in objs)
        }
        anything = set(self.landing.latest_by_session(self.test_id, "session_details")) | set(
            self.landing.latest_by_session(self.test_id, "transcripts")
        )
        for name, ids in rows.items():
            assert not ids & self.removed, f"{name} still holds removed sessions {ids & self.removed}"
        assert not anything & self.removed, f"landed answers of removed sessions {anything & self.removed}"
        assert rows[RAW_SESSIONS.name] == self.held, "raw_sessions is not what is held"
        assert landed <= self.held, f"landed, not held: {landed - self.held}"
        assert rows[SESSION_DETAILS.name] == landed == rows[SESSIONS.name], (
            "session tables differ from landed"
        )
        assert transcripts <= self.held, f"transcripts landed, not held: {transcripts - self.held}"
        assert rows[TRANSCRIPTS.name] == transcripts, "transcripts table differs from landed"
        failing = SyncState(self.landing, self.test_id).failures(DETAILS)
        unexplained = self.held - landed - set(failing)
        assert not unexplained, f"listed, not landed and not failing: {unexplained}"
        # Nothing stalls in silence: a failing session whose retry is due was asked again.
        if self.retry.first_retry_minutes == 0:
            asked = {a.session_id for a in run.answers if a.endpoint == "session_details"}
            due = {s for s in self.held - landed if failing[s].count < self.retry.quarantine_after}
            assert due <= asked, f"failing, due and not asked: {due - asked}"

    def _session_ids(self, table: Table) -> set[str]:
        frame = self.warehouse.read(table, self.test_id, columns=("session_id",))
        return set(frame["session_id"])


EngineModel.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
# A failure is shrunk for up to 5 minutes (hypothesis' own limit) before it is reported.
TestEngineModel = pytest.mark.timeout(900)(EngineModel.TestCase)


def test_an_answer_given_while_the_test_is_revoked_leaves_a_failure_count_as_it_was() -> None:
    """The model once read a revoked test's 401 as a success of the session and failed the engine for
    keeping its failure count (drawn on a busy machine: which examples hypothesis draws varies with
    timing). Replayed here so that it runs every time."""
    plain = Flags(reconcile=False, full=False, retry_failed=False)
    model = EngineModel()
    try:
        model.policies(
            retry_at_once=True,
            confirm_at_once=True,
            max_sessions=50,
            quarantine_after=3,
            page_cap=3,
            max_share=0.3,
        )
        model.period(events=[], flags=plain, writes_before_kill=None)
        model.period(
            events=[("arrive", (1,)), ("session_fails", ("503x1", "transcript", 0))],
            flags=plain,
            writes_before_kill=None,
        )
        (failing,) = SyncState(model.landing, model.test_id).failures(TRANSCRIPT)
        asked = len(model.spy.answers)
        model.period(
            events=[("revoke_after", (1, 401, "session_details")), ("arrive", (2,))],
            flags=plain,
            writes_before_kill=None,
        )
        revoked = [
            a for a in model.spy.answers[asked:] if a.endpoint == "transcript" and a.session_id == failing
        ]
        assert revoked and all(a.revoked and a.status == 401 for a in revoked), revoked
        assert SyncState(model.landing, model.test_id).failures(TRANSCRIPT)[failing].count == 1
    finally:
        model.teardown()

"""The transcripts step of a test's sync: each session's WebVTT once, landed as served.

Only think-out-loud and live-conversation sessions have transcripts, and one can appear some time
after the session completes: a 404 is asked again with growing spacing until `wait_hours` after the
session finished. A transcript that fails (5xx) is that session's problem only: recorded, backed off
(retries.py), and the other transcripts land.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import LandedObject, Landing, utc_now
from dagster_usertesting.lib.normalize import chunk_rows, parse_api_time, parse_cues, transcript_rows
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import TRANSCRIPTS
from dagster_usertesting.lib.sync import retries
from dagster_usertesting.lib.sync.retries import Failure, RetryPolicy
from dagster_usertesting.lib.sync.revocation import EXPECTED_404_CHECK_AFTER, NotFound, NotFoundEvidence
from dagster_usertesting.lib.sync.state import TRANSCRIPT, SyncState
from dagster_usertesting.lib.sync_policy import (
    WITHOUT_TRANSCRIPTS,
    TableChanges,
    consecutive_failures_exceeded,
    table_changes,
    transcript_recheck_due,
    transcript_settled,
)
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.errors import UserTestingError, UserTestingUnavailableError
from dagster_usertesting.lib.warehouse import WarehouseClient
from dagster_usertesting.lib.workspace_tests import landed_product_types

FOLDER = "transcripts"


@dataclass(frozen=True)
class TranscriptOptions:
    retry: RetryPolicy
    wait_hours: float = 72.0
    recheck_hours: float = 1.0
    chunk_max_chars: int = 1500
    no_transcript_probe: int = 10
    full: bool = False
    rebuild: bool = False
    retry_failed: bool = False


@dataclass
class TranscriptsResult:
    transcripts: list[dict]
    chunks: list[dict]
    changes: TableChanges
    written: set[str]
    current: dict[str, datetime]
    asked: int
    found: int
    skipped: int
    product_type: str | None
    failures: dict[str, Failure]
    failed_now: dict[str, str] = field(default_factory=dict)
    fatal: UserTestingError | None = None


def sync_transcripts(
    test_id: TestId,
    client: UserTestingClient,
    landing: Landing,
    warehouse: WarehouseClient,
    options: TranscriptOptions,
    start_progress: Callable[[int], SyncProgress],
    may_land: Callable[[], bool] = lambda: True,
) -> TranscriptsResult:
    started = utc_now()
    listing = landing.read_listing(test_id)
    state = SyncState(landing, test_id)
    failures = state.failures(TRANSCRIPT)
    finished = {sid: parse_api_time(s.get("finishTime")) for sid, s in listing.sessions.items()}
    all_landed = landing.latest_by_session(test_id, FOLDER)
    landing.delete_sessions(test_id, FOLDER, all_landed.keys() & listing.deleted.keys())
    landed = {sid: objs for sid, objs in all_landed.items() if sid not in listing.deleted}
    # Only think-out-loud and live-conversation tests have transcripts, and the API does not say
    # which kind a test is: a test whose settled sessions all lack one costs `no_transcript_probe`
    # requests once, instead of one request per session forever.
    has_any = any(o.kind == "vtt" for objs in landed.values() for o in objs)
    # When the test list says what kind of test this is, a kind without narration costs nothing.
    kind = landed_product_types(landing.store).get(test_id)
    known_without = kind in WITHOUT_TRANSCRIPTS and not has_any
    settled = sum(
        transcript_settled(_times(_missing(objs)), finished.get(sid), started, options.wait_hours)
        for sid, objs in landed.items()
        if not _transcript(objs)
    )
    asked = found = skipped = unavailable_in_a_row = 0
    failed_now: dict[str, str] = {}
    fatal: UserTestingError | None = None
    evidence = NotFoundEvidence(client, test_id, "transcript", EXPECTED_404_CHECK_AFTER)

    def land(session_id: str, raw: bytes | None, at: datetime) -> None:
        nonlocal found, has_any, settled
        missing = _missing(landed.get(session_id, []))
        obj = landing.put_session_object(
            test_id, FOLDER, session_id, "missing" if raw is None else "vtt", raw or b"", at
        )
        if failures.pop(session_id, None) is not None:
            state.save_failures(TRANSCRIPT, failures)
        landed.setdefault(session_id, []).insert(0, obj)
        found += raw is not None
        has_any = has_any or raw is not None
        settled += raw is None and transcript_settled(
            _times([obj, *missing]), finished.get(session_id), utc_now(), options.wait_hours
        )

    def land_missing(confirmed: list[NotFound]) -> None:
        for nf in confirmed:
            land(nf.session_id, None, nf.at)

    progress = start_progress(len(finished))
    for session_id, finished_at in finished.items():
        progress.advance()
        objects = landed.get(session_id, [])
        transcript = _transcript(objects)
        if transcript is not None and not (options.full and transcript.received_at < started):
            continue
        missing = _missing(objects)
        if not options.full:
            if known_without or (not has_any and 0 < options.no_transcript_probe <= settled + evidence.held):
                skipped += 1
                continue
            if missing and not transcript_recheck_due(
                _times(missing), finished_at, utc_now(), (options.recheck_hours, options.wait_hours)
            ):
                continue
            if not retries.ask_now(
                failures.get(session_id), started, options.retry, retry_failed=options.retry_failed
            ):
                continue
        if not may_land():
            break  # the test was forgotten while this run was going: land nothing more of it
        try:
            raw = client.get_transcript_raw(session_id)
        except UserTestingUnavailableError as exc:
            failures[session_id] = retries.failed(failures.get(session_id), utc_now(), str(exc))
            failed_now[session_id] = str(exc)
            state.save_failures(TRANSCRIPT, failures)
            unavailable_in_a_row += 1
            if consecutive_failures_exceeded(unavailable_in_a_row):
                fatal = exc  # the API is down, not these sessions: stop asking, land what we have
                break
            continue
        except UserTestingError as exc:  # credentials, budget: no transcript would succeed
            fatal = exc
            break
        unavailable_in_a_row = 0
        asked += 1
        if raw is None:
            # "None yet", unless the test itself stopped answering: held back until it is known.
            confirmed, fatal = evidence.not_found(session_id, utc_now())
            land_missing(confirmed)
            if fatal is not None:
                break
            continue
        land_missing(evidence.answered())
        land(session_id, raw, utc_now())
    if fatal is None:
        confirmed, fatal = evidence.settle()
        land_missing(confirmed)
    progress.finish()
    # Removed upstream, or landed by a run killed before it cleared the record: no failure to keep.
    failures = {
        s: f
        for s, f in failures.items()
        if s not in listing.deleted and _transcript(landed.get(s, [])) is None
    }
    state.save_failures(TRANSCRIPT, failures)

    latest = {sid: t for sid, objs in landed.items() if (t := _transcript(objs)) is not None}
    current = {sid: obj.received_at for sid, obj in latest.items()}
    changes = table_changes(current, warehouse.session_versions(TRANSCRIPTS, test_id), listing.deleted.keys())
    written = set(current) if options.rebuild else set(changes.write)
    transcript_out: list[dict] = []
    chunk_out: list[dict] = []
    for obj, body in landing.read_many(latest[sid] for sid in written):
        # Decoded leniently: a stray invalid byte must not cost the whole transcript.
        vtt = body.decode("utf-8", errors="replace")
        try:
            transcript_out.extend(transcript_rows(test_id, obj.session_id, vtt, obj.received_at))
            chunk_out.extend(
                chunk_rows(test_id, obj.session_id, parse_cues(vtt), obj.received_at, options.chunk_max_chars)
            )
        except ValueError as exc:
            # Kept in the landing area; a normalizer fix re-derives it without a new request.
            failed_now[obj.session_id] = str(exc)
            del current[obj.session_id]
            written.discard(obj.session_id)
    return TranscriptsResult(
        transcript_out,
        chunk_out,
        changes,
        written,
        current,
        asked,
        found,
        skipped,
        kind,
        failures,
        failed_now,
        fatal,
    )


def _transcript(objects: list[LandedObject]) -> LandedObject | None:
    return next((o for o in objects if o.kind == "vtt"), None)


def _missing(objects: list[LandedObject]) -> list[LandedObject]:
    return [o for o in objects if o.kind == "missing"]


def _times(objects: list[LandedObject]) -> list[datetime]:
    return [o.received_at for o in objects]

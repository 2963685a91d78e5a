"""The clips step of a test's sync: its highlight reels, and each session's clips as clips_policy.py says.

    raw/<test_id>/highlight_reels/<stamp>.json   reels answer as served, landed when it changed
    raw/<test_id>/clips/<session_id>/<stamp>.json      a session's clips answer as served
    raw/<test_id>/clips/<session_id>/<stamp>.missing   the session answered 404 (no video to clip)
    raw/<test_id>/clips/<session_id>/<stamp>.rejected  an answer that could not be read

Each answer lands before the next request; rows are derived from the landing area only, so a killed
run loses nothing it paid for. A session that fails (5xx) is that session's problem only: recorded and
backed off (retries.py). A 404 counts only once the test is known to answer (revocation.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import LandedObject, Landing, Listing, parse_stamp, utc_now
from dagster_usertesting.lib.normalize import parse_api_time, parse_cues
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.schema import CLIP_TRANSCRIPTS, CLIPS
from dagster_usertesting.lib.sync import retries
from dagster_usertesting.lib.sync.clips_policy import (
    ClipsPolicy,
    HeldClips,
    clip_table_changes,
    clips_due,
    held_clips,
    held_reels,
    next_due_at,
    reels_due,
    reels_signature,
    reels_wanted,
    study_with_clips,
    unaccounted_clips,
)
from dagster_usertesting.lib.sync.clips_rows import (
    clip_rows,
    clip_transcript_rows,
    parse_clip_answer,
    reel_rows,
)
from dagster_usertesting.lib.sync.retries import Failure, RetryPolicy
from dagster_usertesting.lib.sync.revocation import NotFound, NotFoundEvidence
from dagster_usertesting.lib.sync.state import CLIPS as CLIPS_ENDPOINT
from dagster_usertesting.lib.sync.state import SyncState
from dagster_usertesting.lib.sync_policy import TableChanges, consecutive_failures_exceeded
from dagster_usertesting.lib.usertesting_api.client import UserTestingClient
from dagster_usertesting.lib.usertesting_api.errors import (
    MalformedResponseError,
    UserTestingError,
    UserTestingUnavailableError,
)
from dagster_usertesting.lib.warehouse import WarehouseClient
from dagster_usertesting.lib.workspace_tests import latest_workspace_tests

FOLDER = "clips"
REELS_FOLDER = "highlight_reels"
STATE = "clips"  # raw/<test_id>/state/clips.json: reels_asked_at, next_due_at (the sensor reads it)


@dataclass(frozen=True)
class ClipOptions:
    retry: RetryPolicy
    policy: ClipsPolicy = field(default_factory=ClipsPolicy)
    full: bool = False  # ask every session again, whatever the policy says
    rebuild: bool = False
    retry_failed: bool = False
    clock: Callable[[], datetime] = utc_now  # the sync's clock (tests move it)


@dataclass
class ClipsResult:
    reels: list[dict[str, Any]]  # from the newest landed reels answer
    clips: list[dict[str, Any]]
    clip_transcripts: list[dict[str, Any]]
    changes: TableChanges
    current: dict[str, datetime]
    product_type: str | None
    reels_asked: bool = False
    study_with_clips: bool | None = None
    due: dict[str, int] = field(default_factory=dict)  # reason -> sessions asked for it
    asked: int = 0
    unaccounted: int | None = None
    failures: dict[str, Failure] = field(default_factory=dict)
    failed_now: dict[str, str] = field(default_factory=dict)
    fatal: UserTestingError | None = None


def catalog_kind(landing: Landing, test_id: TestId) -> tuple[str | None, str | None]:
    """(productType, type) of the test from the newest landed test list; (None, None) when unknown."""
    latest = latest_workspace_tests(landing.store)
    for test in latest[1] if latest else []:
        if isinstance(test, dict) and str(test.get("uuid") or "").lower() == test_id:
            kind, study_type = test.get("productType"), test.get("type")
            return (
                kind.upper() if isinstance(kind, str) else None,
                study_type if isinstance(study_type, str) else None,
            )
    return None, None


def sync_clips(
    test_id: TestId,
    client: UserTestingClient,
    landing: Landing,
    warehouse: WarehouseClient,
    options: ClipOptions,
    start_progress: Callable[[int], SyncProgress],
    may_land: Callable[[], bool] = lambda: True,
) -> ClipsResult:
    listing = landing.read_listing(test_id)
    product_type, study_type = catalog_kind(landing, test_id)
    all_landed = landing.latest_by_session(test_id, FOLDER)
    landing.delete_sessions(test_id, FOLDER, all_landed.keys() & listing.deleted.keys())
    landed = {sid: objs for sid, objs in all_landed.items() if sid not in listing.deleted}
    answers = _read_answers(landing, landed)
    result = ClipsResult([], [], [], TableChanges(frozenset(), frozenset()), {}, product_type)

    reels_body: Any = None
    reels_changed_at: datetime | None = None
    state = landing.read_state(test_id, STATE)
    wanted = reels_wanted(product_type, study_type)
    if (
        wanted
        and may_land()
        and (options.full or reels_due(_time(state.get("reels_asked_at")), options.clock(), options.policy))
    ):
        result.reels_asked = True
        try:
            reels_body, reels_changed_at = _reels(test_id, client, landing, options.clock)
        except UserTestingError as exc:  # the test itself does not answer: ask no session of it
            result.fatal = exc
        else:
            at = options.clock().isoformat()
            # A 404 is no answer: it confirms no reel's removal (reels_answered_at does).
            answered = {"reels_answered_at": at} if reels_body is not None else {}
            _note(landing, test_id, reels_asked_at=at, **answered)
    elif wanted and (previous := landing.latest_test_object(test_id, REELS_FOLDER)) is not None:
        # Asked a short while ago: its last landed answer still stands (and the settle schedule runs).
        reels_body, reels_changed_at = json.loads(previous[1]), _changed_at(landing, test_id, previous[0])
    if result.fatal is None and reels_body is None:
        # Nothing of this test is asked (a kind without clips, a 404): nothing for the sensor to wait for.
        _note(landing, test_id, next_due_at=None)
    if result.fatal is None and reels_body is not None:
        result.study_with_clips = study_with_clips(reels_body)
        _ask_sessions(
            test_id,
            client,
            landing,
            options,
            listing,
            landed,
            answers,
            (reels_body, reels_changed_at),
            result,
            start_progress,
            may_land,
        )
    # Rows from the newest landed answer: a 404 or a test not asked this time keeps what was answered.
    # A reel the newest answer leaves out stays, pending, until an answer an hour later agrees.
    landed_reels = _landed_reels(landing, test_id)
    if landed_reels:
        confirmed_at = _time(landing.read_state(test_id, STATE).get("reels_answered_at"))
        previous = landed_reels[1] if len(landed_reels) > 1 else None
        reels, pending = held_reels(landed_reels[0], previous, confirmed_at, options.policy)
        result.reels = reel_rows(test_id, reels, pending, landed_reels[0][0])
    _rows(test_id, landing, warehouse, options, listing.deleted.keys(), landed, answers, result)
    if reels_body is not None:
        held_now = sum(len(held_clips(a, options.policy).clips) for a in answers.values())
        result.unaccounted = unaccounted_clips(reels_body, held_now)
    return result


def _reels(
    test_id: TestId, client: UserTestingClient, landing: Landing, clock: Callable[[], datetime]
) -> tuple[Any, datetime | None]:
    """The reels answer now (None: 404), and when the reels last changed.

    An answer is landed only when it differs from the one before, so the newest landed answer is
    when they last changed; the first answer ever is no change (None): what it shows was there before."""
    raw = client.get_highlight_reels_raw(test_id)
    previous = landing.latest_test_object(test_id, REELS_FOLDER)
    changed_at = _changed_at(landing, test_id, previous[0]) if previous is not None else None
    if raw is None:
        return None, changed_at
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if reels_signature(body) is None:
        raise MalformedResponseError(f"The highlight reels answer of test {test_id} cannot be read.", raw)
    if previous is not None and reels_signature(json.loads(previous[1])) == reels_signature(body):
        return body, changed_at
    at = clock()
    landing.put_test_object(test_id, REELS_FOLDER, raw, at)
    return body, at if previous is not None else None


def _landed_reels(landing: Landing, test_id: TestId) -> list[tuple[datetime, Any]]:
    """The two newest landed reels answers (newest first), parsed."""
    prefix = f"raw/{test_id}/{REELS_FOLDER}/"
    keys = sorted((k for k in landing.store.list_keys(prefix) if k.endswith(".json")), reverse=True)[:2]
    found = []
    for key in keys:
        raw = landing.store.get_bytes(key)
        if raw is not None:
            found.append((parse_stamp(key[len(prefix) :].partition(".")[0]), json.loads(raw)))
    return found


def _changed_at(landing: Landing, test_id: TestId, newest: datetime) -> datetime | None:
    """When the reels last changed: the newest landed answer's time, unless it is the only one."""
    history = [k for k in landing.store.list_keys(f"raw/{test_id}/{REELS_FOLDER}/") if k.endswith(".json")]
    return newest if len(history) > 1 else None


def _note(landing: Landing, test_id: TestId, **values: Any) -> None:
    """Update the step's state (raw/<test>/state/clips.json): when reels were asked, when next due."""
    landing.write_state(test_id, STATE, {**landing.read_state(test_id, STATE), **values})


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _read_answers(
    landing: Landing, landed: dict[str, list[LandedObject]]
) -> dict[str, list[tuple[datetime, list[Any] | None]]]:
    """Every landed clips answer per session, newest first; None for a 404 or an unreadable one."""
    readable = [o for objs in landed.values() for o in objs if o.kind == "json"]
    bodies = {o.key: parse_clip_answer(body) for o, body in landing.read_many(readable)}
    return {
        sid: [(o.received_at, bodies.get(o.key)) for o in objs if o.kind in ("json", "missing", "rejected")]
        for sid, objs in landed.items()
    }


def _ask_sessions(
    test_id: TestId,
    client: UserTestingClient,
    landing: Landing,
    options: ClipOptions,
    listing: Listing,
    landed: dict[str, list[LandedObject]],
    answers: dict[str, list[tuple[datetime, list[Any] | None]]],
    reels: tuple[Any, datetime | None],
    result: ClipsResult,
    start_progress: Callable[[int], SyncProgress],
    may_land: Callable[[], bool],
) -> None:
    state = SyncState(landing, test_id)
    failures = state.failures(CLIPS_ENDPOINT)
    now = options.clock()
    held = {sid: held_clips(a, options.policy) for sid, a in answers.items()}
    reels_body, reels_changed_at = reels
    # The all-clips reel counts fewer clips than are held: some were removed, wherever they were.
    fewer = unaccounted_clips(reels_body, sum(len(h.clips) for h in held.values())) or 0
    due: dict[str, str] = {}
    schedule: dict[str, tuple[datetime | None, datetime | None]] = {}  # session -> (finished, awaiting)
    for session_id, summary in listing.sessions.items():
        if session_id in listing.deleted:
            continue
        mine = held.get(session_id, HeldClips({}, {}))
        if not result.study_with_clips and not mine.clips:
            continue  # a test without clips: only held clips still need their removal confirmed
        finished = parse_api_time(summary.get("finishTime")) or parse_api_time(summary.get("startTime"))
        asked = [at for at, _ in answers.get(session_id, [])]
        awaiting = min(mine.awaiting.values(), default=None)
        schedule[session_id] = (finished, awaiting)
        reason = (
            "full sync"
            if options.full
            else clips_due(
                finished,
                asked,
                now,
                options.policy,
                reels_changed_at=reels_changed_at,
                awaiting_since=awaiting,
                held_clip_may_be_gone=fewer < 0 and bool(mine.clips),
            )
        )
        if reason is None:
            continue
        if not retries.ask_now(
            failures.get(session_id), now, options.retry, retry_failed=options.retry_failed
        ):
            continue
        due[session_id] = reason
    evidence = NotFoundEvidence(client, test_id, "clips")

    def land(session_id: str, kind: str, raw: bytes, at: datetime) -> None:
        obj = landing.put_session_object(test_id, FOLDER, session_id, kind, raw, at)
        landed.setdefault(session_id, []).insert(0, obj)
        clips = parse_clip_answer(raw) if kind == "json" else None
        answers.setdefault(session_id, []).insert(0, (at, clips))
        if failures.pop(session_id, None) is not None:
            state.save_failures(CLIPS_ENDPOINT, failures)

    def land_missing(confirmed: list[NotFound]) -> None:
        for nf in confirmed:
            land(nf.session_id, "missing", b"", nf.at)

    progress = start_progress(len(due))
    unavailable_in_a_row = 0
    for session_id, reason in due.items():
        progress.advance()
        if not may_land():
            break  # the test was forgotten while this run was going: land nothing more of it
        try:
            raw = client.get_session_clips_raw(session_id)
        except UserTestingUnavailableError as exc:
            failures[session_id] = retries.failed(failures.get(session_id), options.clock(), str(exc))
            result.failed_now[session_id] = str(exc)
            state.save_failures(CLIPS_ENDPOINT, failures)
            unavailable_in_a_row += 1
            if consecutive_failures_exceeded(unavailable_in_a_row):
                result.fatal = exc  # the API is down, not these sessions: stop asking
                break
            continue
        except UserTestingError as exc:  # credentials, budget: no session would succeed
            result.fatal = exc
            break
        unavailable_in_a_row = 0
        result.asked += 1
        result.due[reason] = result.due.get(reason, 0) + 1
        at = options.clock()
        if raw is None:
            confirmed, result.fatal = evidence.not_found(session_id, at)
            land_missing(confirmed)
            if result.fatal is not None:
                break
            continue
        land_missing(evidence.answered())
        if parse_clip_answer(raw) is None:
            land(session_id, "rejected", raw, at)  # kept as served; it holds no evidence either way
            failures[session_id] = retries.failed(failures.get(session_id), at, "unreadable clips answer")
            result.failed_now[session_id] = "unreadable clips answer"
            state.save_failures(CLIPS_ENDPOINT, failures)
            continue
        land(session_id, "json", raw, at)
    if result.fatal is None:
        confirmed, result.fatal = evidence.settle()
        land_missing(confirmed)
    progress.finish()
    result.failures = {s: f for s, f in failures.items() if s not in listing.deleted}
    state.save_failures(CLIPS_ENDPOINT, result.failures)
    # When the next session is due by the clock alone: the sensor starts a sync then (sync_need.py).
    # A session answered just now is judged by that answer; its awaiting time by the new answers.
    upcoming = []
    for session_id, (finished, _) in schedule.items():
        mine = held_clips(answers.get(session_id, []), options.policy)
        asked = [at for at, _ in answers.get(session_id, [])]
        awaiting = min(mine.awaiting.values(), default=None)
        moment = next_due_at(finished, asked, options.policy, awaiting)
        failure = result.failures.get(session_id)
        if moment is None or retries.quarantined(failure, options.retry):
            continue
        if failure is not None:  # backing off: due no sooner than its retry
            moment = max(moment, failure.last_at + options.retry.wait(failure.count))
        upcoming.append(moment)
    _note(landing, test_id, next_due_at=min(upcoming).isoformat() if upcoming else None)


def _rows(
    test_id: TestId,
    landing: Landing,
    warehouse: WarehouseClient,
    options: ClipOptions,
    deleted: Set[str],
    landed: dict[str, list[LandedObject]],
    answers: dict[str, list[tuple[datetime, list[Any] | None]]],
    result: ClipsResult,
) -> None:
    held = {sid: held_clips(a, options.policy) for sid, a in answers.items()}
    version = {sid: next((at for at, c in a if c is not None), None) for sid, a in answers.items()}
    transcripts = {
        sid: next((o for o in objs if o.kind == "vtt"), None)
        for sid, objs in landing.latest_by_session(test_id, "transcripts").items()
    }
    current = {sid: v for sid, v in version.items() if v is not None and held[sid].clips}
    # A session's clip_transcripts change with its clips or its transcript: its version is the newer.
    spoken = {
        sid: max(v, t.received_at) if (t := transcripts.get(sid)) is not None else v
        for sid, v in current.items()
    }
    answered = {sid for sid, v in version.items() if v is not None}
    changes = clip_table_changes(current, warehouse.session_versions(CLIPS, test_id), answered, deleted)
    spoken_changes = clip_table_changes(
        spoken, warehouse.session_versions(CLIP_TRANSCRIPTS, test_id), answered, deleted
    )
    write = (
        set(current) | (answered - set(current))
        if options.rebuild
        else set(changes.write | spoken_changes.write)
    )
    result.changes = TableChanges(
        frozenset(write), changes.delete | spoken_changes.delete, changes.unexplained
    )
    result.current = current
    details = landing.latest_by_session(test_id, "session_details")
    wanted_details = [
        next(o for o in details[s] if o.kind == "json")
        for s in write
        if any(o.kind == "json" for o in details.get(s, []))
    ]
    participants = {o.session_id: _participant(body) for o, body in landing.read_many(wanted_details)}
    wanted_vtts = [transcripts[s] for s in write if transcripts.get(s) is not None]
    vtts = {o.session_id: body for o, body in landing.read_many(wanted_vtts)}
    for session_id in sorted(write):
        mine = held.get(session_id)
        at = version.get(session_id)
        if mine is None or at is None or not mine.clips:
            continue
        result.clips += clip_rows(
            test_id, session_id, participants.get(session_id), mine.clips, mine.awaiting, at
        )
        cues = parse_cues(vtts[session_id]) if session_id in vtts else None
        result.clip_transcripts += clip_transcript_rows(
            test_id, session_id, mine.clips, cues, spoken[session_id]
        )


def _participant(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    participant = payload.get("sessionParticipant") if isinstance(payload, dict) else None
    value = participant.get("participantId") if isinstance(participant, dict) else None
    return value if isinstance(value, str) else None

"""What the next sync of a test will ask the API for, judged from what is landed (no request).

`ut-dagster status` used to count one transcript request per landed session and one QXscore request
per test: 32 and 22 requests for a fully synced survey and interaction test that the next sync
finished in one request each. This follows the sync steps' own rules on the same observations:

- listing (lib/sync/listing_step.py): one `limit=500` page while nothing is due; the whole listing
  when a reconciliation walk is due (`reconcile_due`), plus the page that confirms its end;
- details (details_step.py): listed sessions without a landed payload, but failing ones still
  backing off (`retries.ask_now`);
- transcripts (transcripts_step.py): none for a product type without narration (the landed test
  list, `WITHOUT_TRANSCRIPTS`), none once `no_transcript_probe` settled sessions of a test have none,
  a missing one only when its re-ask is due, plus the listing probes their 404s cost (revocation.py);
- QXscores (assets/qx_scores.py): only for tests whose sessions carry QXscore groups, when the
  number of sessions changed since the last fetch.

Sessions UserTesting added after the last listing are unknown until the next one (beyond the
count that listing reported), and where an answer decides what is asked next (a transcript found or
not), what was seen so far is assumed to go on: the estimate is what the next sync asks at least.
Videos (`--videos`) are not counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import LandedObject, Landing, Listing
from dagster_usertesting.lib.normalize import parse_api_time
from dagster_usertesting.lib.object_store import ObjectStore
from dagster_usertesting.lib.sync import retries
from dagster_usertesting.lib.sync.retries import Failure, RetryPolicy
from dagster_usertesting.lib.sync.revocation import EXPECTED_404_CHECK_AFTER, listing_probes
from dagster_usertesting.lib.sync.state import DETAILS, TRANSCRIPT, SyncState
from dagster_usertesting.lib.sync_policy import (
    WITHOUT_TRANSCRIPTS,
    reconcile_due,
    transcript_recheck_due,
    transcript_settled,
)
from dagster_usertesting.lib.usertesting_api.paging import SMALLEST_DOCUMENTED_CAP
from dagster_usertesting.lib.workspace_tests import landed_product_types


@dataclass(frozen=True)
class CatchUpPolicy:
    """The settings the sync steps decide by (UT_* settings and the transcripts asset's defaults)."""

    page_size: int
    reconcile_hours: float
    confirm_hours: float
    retry: RetryPolicy
    transcript_wait_hours: float
    transcript_recheck_hours: float
    no_transcript_probe: int


@dataclass(frozen=True)
class Observations:
    """What is landed about one test: everything the next sync decides its requests by."""

    listing: Listing
    details_landed: frozenset[str]  # sessions with a readable payload
    details_failures: Mapping[str, Failure]
    transcripts: Mapping[str, list[LandedObject]]  # per session, newest first
    transcript_failures: Mapping[str, Failure]
    product_type: str | None  # from the landed test list; None before its first refresh
    has_qx_groups: bool
    qx_fetched: bool
    qx_sessions_at_fetch: int | None


@dataclass(frozen=True)
class CatchUp:
    listing: int
    details: int
    transcripts: int
    probes: int  # listing probes asked after a 404 (revocation.py)
    qx_scores: int
    listed: bool = True  # False: never listed, so the test's size is unknown

    @property
    def total(self) -> int:
        return self.listing + self.details + self.transcripts + self.probes + self.qx_scores


def observe(store: ObjectStore, test_id: TestId) -> Observations:
    landing = Landing(store)
    listing = landing.read_listing(test_id)
    state = SyncState(landing, test_id)
    gone = listing.deleted.keys()
    details = landing.latest_by_session(test_id, "session_details")
    transcripts = landing.latest_by_session(test_id, "transcripts")
    previous = landing.latest_test_object(test_id, "qx_scores")
    at_fetch = None
    if previous is not None:
        try:
            at_fetch = json.loads(previous[1]).get("sessions_at_fetch")
        except (ValueError, AttributeError):
            at_fetch = None
    return Observations(
        listing=listing,
        details_landed=frozenset(
            s for s, objs in details.items() if s not in gone and any(o.kind == "json" for o in objs)
        ),
        details_failures=state.failures(DETAILS),
        transcripts={s: objs for s, objs in transcripts.items() if s not in gone},
        transcript_failures=state.failures(TRANSCRIPT),
        product_type=landed_product_types(store).get(test_id),
        has_qx_groups=state.has_qx_score_groups(),
        qx_fetched=previous is not None,
        qx_sessions_at_fetch=at_fetch if isinstance(at_fetch, int) else None,
    )


def estimate(seen: Observations, policy: CatchUpPolicy, now: datetime) -> CatchUp:
    """The requests the next incremental sync (no --full, --reconcile or --retry-failed) asks at least."""
    listing = seen.listing
    held = set(listing.sessions)
    unlisted = max((listing.total_count or 0) - len(held), 0)  # counted by the last listing, not seen
    return CatchUp(
        listing=_listing_pages(seen, policy, now, unlisted),
        details=_details(seen, policy, now) + unlisted,
        **_transcripts(seen, policy, now, unlisted),
        qx_scores=int(
            seen.has_qx_groups and (not seen.qx_fetched or seen.qx_sessions_at_fetch != len(held) + unlisted)
        ),
        listed=listing.total_count is not None,
    )


def _listing_pages(seen: Observations, policy: CatchUpPolicy, now: datetime, unlisted: int) -> int:
    listing, page = seen.listing, policy.page_size
    held = len(listing.sessions)
    awaiting = [datetime.fromisoformat(t) for t in listing.awaiting_deletion.values()]
    suspects = any(f.not_found for f in seen.details_failures.values())
    walk_all = reconcile_due(
        listing.reconciled_at,
        now,
        policy.reconcile_hours,
        min(awaiting, default=None),
        policy.confirm_hours,
        suspects,
    )
    if not walk_all:
        # Newest first: paging stops once the sessions held and seen account for the count.
        return max(1, math.ceil(unlisted / page))
    total = max(listing.total_count or 0, held)
    pages = max(1, math.ceil(total / page))
    if not held or total == 0:
        return pages
    # A walk that may remove sessions asks one page more after a full last page (paging.py).
    last = total - (pages - 1) * page
    full = last >= (min(page, SMALLEST_DOCUMENTED_CAP) if pages == 1 else page)
    return pages + full


def _details(seen: Observations, policy: CatchUpPolicy, now: datetime) -> int:
    return sum(
        sid not in seen.details_landed and retries.ask_now(seen.details_failures.get(sid), now, policy.retry)
        for sid in seen.listing.sessions
    )


def _transcripts(seen: Observations, policy: CatchUpPolicy, now: datetime, unlisted: int) -> dict[str, int]:
    wait, spacing = (
        policy.transcript_wait_hours,
        (policy.transcript_recheck_hours, policy.transcript_wait_hours),
    )
    has_any = any(o.kind == "vtt" for objs in seen.transcripts.values() for o in objs)
    if seen.product_type in WITHOUT_TRANSCRIPTS and not has_any:
        return {"transcripts": 0, "probes": 0}
    finished = {sid: parse_api_time(s.get("finishTime")) for sid, s in seen.listing.sessions.items()}
    settled = sum(
        transcript_settled(_times(_missing(objs)), finished.get(sid), now, wait)
        for sid, objs in seen.transcripts.items()
        if not _has_vtt(objs)
    )
    # The sessions in the order the step walks them; new ones come after the ones held, just finished.
    walk = [*((sid, seen.transcripts.get(sid, []), at) for sid, at in finished.items())]
    walk += [(None, [], now)] * unlisted
    answers: list[bool] = []  # True: the session is expected to answer 404
    for sid, objs, finished_at in walk:
        if _has_vtt(objs):
            continue
        missing = _missing(objs)
        if not has_any and 0 < policy.no_transcript_probe <= settled:
            continue
        if missing and not transcript_recheck_due(_times(missing), finished_at, now, spacing):
            continue
        failure = seen.transcript_failures.get(sid) if sid else None
        if not retries.ask_now(failure, now, policy.retry):
            continue
        # As seen so far: a test with transcripts has one for a new session, not for a missing one.
        absent = bool(missing) or not has_any
        answers.append(absent)
        if absent:
            settled += transcript_settled([now, *_times(missing)], finished_at, now, wait)
    return {"transcripts": len(answers), "probes": listing_probes(answers, EXPECTED_404_CHECK_AFTER)}


def _has_vtt(objects: list[LandedObject]) -> bool:
    return any(o.kind == "vtt" for o in objects)


def _missing(objects: list[LandedObject]) -> list[LandedObject]:
    return [o for o in objects if o.kind == "missing"]


def _times(objects: list[LandedObject]) -> list[datetime]:
    return [o.received_at for o in objects]

"""`ut-dagster status`: where every registered test stands, from what is stored (no API request).

Per test: its title (from the landed test list), sessions listed (and the API's totalCount at the
last listing) vs landed, transcripts and videos archived, the last sync run, its failed runs in a row
(STOPPED once the sensor no longer syncs it, after UT_TEST_MAX_FAILED_RUNS), how far it lags behind
UserTesting, and the requests (and time at the configured rate) the next sync needs to catch up,
judged by the sync steps' own rules (catch_up.py). The catch-up figure is a lower bound: sessions
UserTesting added after the last listing are unknown until the next one. Failing tests are listed
below the table with their last error.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.runs import failure_streak_of
from dagster_usertesting.defs.titles import known_titles
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store import ObjectStore, ObjectStoreResource
from dagster_usertesting.lib.progress import format_duration
from dagster_usertesting.lib.sync.retries import RetryPolicy
from dagster_usertesting.lib.usertesting_api.paging import MAX_PAGE_SIZE
from dagster_usertesting.settings import SensorSettings
from ut_dagster.cli.catch_up import CatchUp, CatchUpPolicy, estimate, observe
from ut_dagster.cli.instance import dagster_instance
from ut_dagster.environment import Settings

# Titles are cut in the table; the ID beside them is what commands take.
TITLE_WIDTH = 40


@dataclass(frozen=True)
class TestStatus:
    test_id: str
    title: str | None
    catch_up: CatchUp
    listed: int
    api_total: int | None
    landed: int
    transcripts: int
    transcripts_missing: int
    videos: int
    videos_none: int
    last_run_status: str | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    failed_runs: int = 0  # in a row, since the last successful run
    stopped: bool = False  # failed too often: not synced until a run of it succeeds
    last_error: str | None = None

    @property
    def behind(self) -> int:
        """Sessions UserTesting has (as far as known) that are not landed yet."""
        return max(self.api_total or 0, self.listed) - self.landed

    @property
    def name(self) -> str:
        """The title as the table shows it (cut), or a placeholder before the test list names it."""
        if not self.title:
            return "(no title yet)"
        return self.title if len(self.title) <= TITLE_WIDTH else self.title[: TITLE_WIDTH - 1] + "…"

    def row(self, per_minute: float, now: datetime) -> list[str]:
        total = "?" if self.api_total is None else str(self.api_total)
        last = "never" if self.last_run_at is None else f"{_when(self.last_run_at)} {self.last_run_status}"
        since = (
            "never synced"
            if self.last_success_at is None
            else f"{format_duration((now - self.last_success_at).total_seconds())} ago"
        )
        return [
            self.name,
            self.test_id,
            f"{self.listed}/{total}",
            str(self.landed),
            f"{self.transcripts} ({self.transcripts_missing} none)",
            f"{self.videos} ({self.videos_none} none)",
            last,
            self.failing,
            f"{self.behind} session{'' if self.behind == 1 else 's'}, {since}",
            catch_up_text(self.catch_up, per_minute),
        ]

    @property
    def failing(self) -> str:
        if self.stopped:
            return f"STOPPED after {self.failed_runs} failed runs"
        if self.failed_runs:
            return f"{self.failed_runs} failed run{'s' if self.failed_runs > 1 else ''} in a row"
        return "-"


HEADERS = [
    "TEST",
    "ID",
    "LISTED/API",
    "LANDED",
    "TRANSCRIPTS",
    "VIDEOS",
    "LAST SYNC",
    "FAILING",
    "LAG",
    "TO CATCH UP",
]


def catch_up_text(catch_up: CatchUp, per_minute: float) -> str:
    """ "5 requests, ~30 s (1 listing, 3 details, 1 QXscores)"; "≥1" for a test never listed."""
    total = catch_up.total
    parts = [
        (catch_up.listing, "listing page"),
        (catch_up.details, "details"),
        (catch_up.transcripts + catch_up.probes, "transcript"),
        (catch_up.qx_scores, "QXscore"),
    ]
    head = f"{'' if catch_up.listed else '≥'}{total} request{'' if total == 1 else 's'}, "
    head += f"~{format_duration(total * 60 / per_minute)}"
    if not catch_up.listed:
        return head + " (not listed yet)"
    detail = ", ".join(f"{n} {what}{'s' if n > 1 and what != 'details' else ''}" for n, what in parts if n)
    return head if total == catch_up.listing else f"{head} ({detail})"


def catch_up_policy(settings: Settings, page_size: int) -> CatchUpPolicy:
    """The policy of the sync as this deployment runs it, with the transcripts asset's defaults."""
    from dagster_usertesting.defs.assets.transcript_tables import TranscriptConfig

    transcripts = TranscriptConfig()
    return CatchUpPolicy(
        page_size=page_size,
        reconcile_hours=settings.reconcile_hours,
        confirm_hours=settings.delete_confirm_hours,
        retry=RetryPolicy(
            first_retry_minutes=settings.session_retry_minutes, quarantine_after=settings.session_max_failures
        ),
        transcript_wait_hours=transcripts.transcript_wait_hours,
        transcript_recheck_hours=transcripts.transcript_recheck_hours,
        no_transcript_probe=transcripts.no_transcript_probe,
    )


def collect_status(
    instance: DagsterInstance,
    store: ObjectStore,
    test_id: TestId,
    max_failed_runs: int = SensorSettings.max_failed_runs,
    *,
    policy: CatchUpPolicy | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> TestStatus:
    landing = Landing(store)
    listing = landing.read_listing(test_id)
    details = landing.latest_by_session(test_id, "session_details")
    transcripts = landing.latest_by_session(test_id, "transcripts")
    video_keys = store.list_keys(f"videos/{test_id}/")
    runs = instance.get_run_records(RunsFilter(tags={"dagster/partition": test_id}), limit=1)
    successes = instance.get_run_records(
        RunsFilter(tags={"dagster/partition": test_id}, statuses=[DagsterRunStatus.SUCCESS]), limit=1
    )
    last = runs[0] if runs else None
    streak = failure_streak_of(instance, test_id, max_failed_runs, with_error=True)
    return TestStatus(
        test_id=test_id,
        title=title,
        catch_up=estimate(
            observe(store, test_id),
            policy or catch_up_policy(Settings.from_env({}), MAX_PAGE_SIZE),
            now or datetime.now(UTC),
        ),
        listed=len(listing.sessions),
        api_total=listing.total_count,
        landed=sum(any(o.kind == "json" for o in objs) for objs in details.values()),
        transcripts=sum(any(o.kind == "vtt" for o in objs) for objs in transcripts.values()),
        transcripts_missing=sum(all(o.kind == "missing" for o in objs) for objs in transcripts.values()),
        videos=sum(k.endswith(".json") for k in video_keys),
        videos_none=sum(k.endswith(".none") for k in video_keys),
        last_run_status=last.dagster_run.status.value.lower() if last else None,
        last_run_at=_time(last.end_time or last.start_time or last.create_timestamp.timestamp())
        if last
        else None,
        last_success_at=_time(successes[0].end_time) if successes and successes[0].end_time else None,
        failed_runs=streak.failures,
        stopped=streak.failures >= max_failed_runs,
        last_error=streak.last_error,
    )


def run_status(
    settings: Settings,
    *,
    instance: DagsterInstance | None = None,
    store: ObjectStore | None = None,
    out: TextIO | None = None,
) -> int:
    from dagster_usertesting.defs.resources import usertesting_resource

    out = out or sys.stdout
    instance = instance or dagster_instance(settings)
    store = (
        store or ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url).store()
    )
    api = usertesting_resource(settings)
    test_ids = sorted(instance.get_dynamic_partitions(test_partitions.name))
    if not test_ids:
        print("No test is registered yet: `ut-dagster sync TEST_ID` registers and syncs one.", file=out)
        return 0
    now = datetime.now(UTC)
    limit = settings.sensors.max_failed_runs
    policy = catch_up_policy(settings, api.page_size)
    titles = known_titles(store)
    statuses = [
        collect_status(instance, store, TestId(t), limit, policy=policy, title=titles.get(t), now=now)
        for t in test_ids
    ]
    # By title, then ID: the order a person looks for a test in.
    statuses.sort(key=lambda s: (s.title is None, (s.title or "").casefold(), s.test_id))
    rows = [s.row(api.requests_per_minute, now) for s in statuses]
    print(format_table(HEADERS, rows), file=out)
    requests = sum(s.catch_up.total for s in statuses)
    unknown = sum(not s.catch_up.listed for s in statuses)
    never = f" ({unknown} never listed: more once their size is known)" if unknown else ""
    print(
        f"\n{len(statuses)} tests, {sum(s.behind for s in statuses)} sessions behind; catching up takes at "
        f"least {requests} requests{never}, ~{format_duration(requests * 60 / api.requests_per_minute)} at "
        f"{api.requests_per_minute} requests per minute.",
        file=out,
    )
    failing = [s for s in statuses if s.failed_runs]
    if failing:
        print("\nFailing tests:", file=out)
    for status in failing:
        state = (
            f"not synced after {status.failed_runs} failed runs in a row"
            if status.stopped
            else f"{status.failed_runs} failed run{'s' if status.failed_runs > 1 else ''} in a row, "
            "retried with growing delays"
        )
        who = f"{status.title} ({status.test_id})" if status.title else status.test_id
        print(f"  {who}: {state}; last error: {status.last_error or 'unknown'}", file=out)
    stopped = [s.test_id for s in failing if s.stopped]
    if stopped:
        print(
            f"A stopped test is synced again once a run of it succeeds: `ut-dagster sync {stopped[0]}` "
            "(or materialize it in the UI). UT_TEST_MAX_FAILED_RUNS sets the limit.",
            file=out,
        )
    return 0


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [headers, *rows]
    )


def _time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")

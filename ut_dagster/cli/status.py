"""`ut-dagster status`: where every registered test stands, from what is stored (no API request).

Per test: sessions listed (and the API's totalCount at the last listing) vs landed, transcripts and
videos archived, the last sync run, its failed runs in a row (STOPPED once the sensor no longer syncs
it, after UT_TEST_MAX_FAILED_RUNS), how far it lags behind UserTesting, and the requests (and time at
the configured rate) a sync needs to catch up. The catch-up figure is a lower bound: sessions
UserTesting added after the last listing are unknown until the next one. Failing tests are listed
below the table with their last error.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from ut_dagster.cli.instance import dagster_instance
from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.defs.usertesting.runs import failure_streak_of
from ut_dagster.environment import SensorSettings, Settings
from ut_dagster.lib.ids import TestId
from ut_dagster.lib.landing import Landing
from ut_dagster.lib.object_store import ObjectStore, ObjectStoreResource
from ut_dagster.lib.progress import format_duration

# The assets stop asking a test for transcripts or videos after this many sessions without one
# (surveys have neither): the defaults of `no_transcript_probe` and `no_video_probe`.
NO_CONTENT_PROBE = 10


@dataclass(frozen=True)
class TestStatus:
    test_id: str
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

    def requests_to_catch_up(self, page_size: int) -> int:
        """API requests the next sync needs at least: listing, details, transcripts, QXscores."""
        unlisted = max((self.api_total or 0) - self.listed, 0)
        listing = 1 + math.ceil(unlisted / page_size) if unlisted else 1
        details = self.behind
        no_transcripts = self.transcripts == 0 and self.transcripts_missing >= NO_CONTENT_PROBE
        asked = self.transcripts + self.transcripts_missing
        transcripts = 0 if no_transcripts else max(self.landed - asked, 0) + details
        return listing + details + transcripts + 1

    def row(self, page_size: int, per_minute: float, now: datetime) -> list[str]:
        requests = self.requests_to_catch_up(page_size)
        total = "?" if self.api_total is None else str(self.api_total)
        last = "never" if self.last_run_at is None else f"{_when(self.last_run_at)} {self.last_run_status}"
        since = (
            "never synced"
            if self.last_success_at is None
            else f"{format_duration((now - self.last_success_at).total_seconds())} ago"
        )
        return [
            self.test_id,
            f"{self.listed}/{total}",
            str(self.landed),
            f"{self.transcripts} ({self.transcripts_missing} none)",
            f"{self.videos} ({self.videos_none} none)",
            last,
            self.failing,
            f"{self.behind} sessions, {since}",
            f"{requests} requests, ~{format_duration(requests * 60 / per_minute)}",
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
    "LISTED/API",
    "LANDED",
    "TRANSCRIPTS",
    "VIDEOS",
    "LAST SYNC",
    "FAILING",
    "LAG",
    "TO CATCH UP",
]


def collect_status(
    instance: DagsterInstance,
    store: ObjectStore,
    test_id: TestId,
    max_failed_runs: int = SensorSettings.max_failed_runs,
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
    from ut_dagster.lib.usertesting_api.resource import UserTestingResource

    out = out or sys.stdout
    instance = instance or dagster_instance(settings)
    store = (
        store or ObjectStoreResource(url=settings.object_store, endpoint_url=settings.s3_endpoint_url).store()
    )
    api = UserTestingResource.from_env(rate_limit_store=settings.rate_limit_store)
    test_ids = sorted(instance.get_dynamic_partitions(test_partitions.name))
    if not test_ids:
        print("No test is registered yet: `ut-dagster sync TEST_ID` registers and syncs one.", file=out)
        return 0
    now = datetime.now(UTC)
    limit = settings.sensors.max_failed_runs
    statuses = [collect_status(instance, store, TestId(t), limit) for t in test_ids]
    rows = [s.row(api.page_size, api.requests_per_minute, now) for s in statuses]
    print(format_table(HEADERS, rows), file=out)
    requests = sum(s.requests_to_catch_up(api.page_size) for s in statuses)
    print(
        f"\n{len(statuses)} tests, {sum(s.behind for s in statuses)} sessions behind; catching up takes at "
        f"least {requests} requests, ~{format_duration(requests * 60 / api.requests_per_minute)} at "
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
        print(f"  {status.test_id}: {state}; last error: {status.last_error or 'unknown'}", file=out)
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

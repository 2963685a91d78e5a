"""API requests the clips step spends on a 1,000-session think-out-loud test: first sync and a month.

    python -m bench.clips_requests [--sessions 1000] [--days 30] [--every-hours 1]

The sandbox's test finished fielding when the sync first runs (a day after its newest session); its
researchers keep clipping, editing and removing for days after each session (sandbox/clips.py: each
clip made 0.5 h to ~8 days after its session). The sandbox clock and the step's clock move together,
a sync every --every-hours for --days. Counted from the sandbox's log: reels requests and session
clip-list requests, per reason. Target: the first sync asks each session with a video once (plus one
reels request), and the month after it at most 2 more per session (its settle points) plus what reels
changes of recent sessions and removals cost, far below one per session per sync.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from bench.common import exit_code, write_result
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.sync.clips_policy import ClipsPolicy
from dagster_usertesting.lib.sync.clips_step import ClipOptions, sync_clips
from dagster_usertesting.lib.sync.deletions import DeletionPolicy
from dagster_usertesting.lib.sync.listing_step import ListingOptions, sync_listing
from dagster_usertesting.lib.sync.retries import RetryPolicy
from dagster_usertesting.lib.warehouse.duckdb import DuckDBWarehouse
from dagster_usertesting.testing import THINK_OUT_LOUD, SandboxConfig, SandboxServer, StudySpec
from dagster_usertesting.testing.data import HISTORY_END
from dagster_usertesting.testing.in_process import in_process_resource

LOG = logging.getLogger("bench.clips_requests")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--every-hours", type=float, default=1.0)
    args = parser.parse_args(argv)
    config = SandboxConfig(studies=(StudySpec(THINK_OUT_LOUD, args.sessions),), requests_per_window=10**9)
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(config) as sandbox:
        root = Path(tmp)
        resource = in_process_resource(
            sandbox,
            client_id=config.client_id,
            client_secret=config.client_secret,
            requests_per_minute=10**9,
            rate_limit_store=str(root / "limit.sqlite"),
            max_retries=0,
        )
        client = resource.get_client()
        test_id = TestId(sandbox.test_ids[0])
        landing = Landing(LocalObjectStore(root / "landing"))
        warehouse = DuckDBWarehouse(root / "warehouse.duckdb")
        now = [HISTORY_END + timedelta(days=1)]
        sandbox.set_clock(now[0])
        sync_listing(test_id, client, landing, warehouse, ListingOptions(1e9, DeletionPolicy()))
        options = ClipOptions(RetryPolicy(), ClipsPolicy(), clock=lambda: now[0])  # reels every 6 h
        listed = len(sandbox.dataset.sessions(test_id))  # a session without a video answers 404
        with_video = sum(r.has_video for r in sandbox.dataset.sessions(test_id))
        sandbox.reset_requests()

        def sync() -> Counter[str]:
            before = Counter(sandbox.request_counts())
            result = sync_clips(
                test_id,
                client,
                landing,
                warehouse,
                options,
                lambda todo: SyncProgress(LOG, test_id, "clips", todo, client.stats),
            )
            spent = Counter(sandbox.request_counts()) - before
            return spent + Counter({f"reason: {k}": v for k, v in result.due.items()})

        first = sync()
        month: Counter[str] = Counter()
        runs = 0
        while now[0] < HISTORY_END + timedelta(days=1 + args.days):
            now[0] += timedelta(hours=args.every_hours)
            sandbox.set_clock(now[0])
            month += sync()
            runs += 1
    first_ok = first["clips"] == listed and first["highlight_reels"] == 1
    month_clips = month["clips"]
    month_ok = month_clips <= 3 * listed and month["highlight_reels"] <= runs * args.every_hours / 6 + 1
    details = {
        "sessions": args.sessions,
        "sessions_with_video": with_video,
        "first_sync": dict(first),
        "month": dict(month),
        "syncs_in_month": runs,
        "naive_month_clip_requests": runs * listed,
    }
    print(details)
    result = write_result(
        "clips_requests",
        target="first sync: 1 reels + 1 per session; a month: reels every 6 h, clip lists at settle points, reels changes, removals",
        measured=(
            f"first sync {first['highlight_reels']} + {first['clips']} requests; {runs} syncs over {args.days:g} days: "
            f"{month['highlight_reels']} reels + {month_clips} clip lists (naive: {runs * listed})"
        ),
        passed=first_ok and month_ok,
        details=details,
    )
    return exit_code(result)


if __name__ == "__main__":
    raise SystemExit(main())

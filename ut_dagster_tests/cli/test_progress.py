"""SyncProgress: what a user watching a long sync sees (log lines and listener updates)."""

from dagster_usertesting.lib.progress import ProgressUpdate, SyncProgress, add_listener, remove_listener
from dagster_usertesting.lib.usertesting_api.stats import RequestStats


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str) -> None:
        self.lines.append(msg)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_at_once_then_at_most_every_interval_with_requests_wait_and_eta():
    log, clock, stats = Lines(), Clock(), RequestStats()
    stats.count_request("earlier")  # spent before the step: not the step's
    progress = SyncProgress(
        log, "t-1", "session_details", todo=10, stats=stats, min_interval_s=10, clock=clock
    )
    assert log.lines == [
        "session_details t-1: 0/10 sessions, 0 API requests, 0 s waiting for budget, ETA unknown"
    ]

    for _ in range(2):
        clock.now += 6
        stats.add_wait(5.5)
        stats.count_request("details")
        progress.advance()
    # 6 s after the first line: nothing; 12 s: one line, ETA = 8 sessions at 6 s each.
    assert len(log.lines) == 2
    assert (
        log.lines[1]
        == "session_details t-1: 2/10 sessions, 2 API requests, 11 s waiting for budget, ETA 48 s"
    )

    progress.finish()
    progress.finish()  # idempotent
    assert len(log.lines) == 3
    assert log.lines[2].startswith("session_details t-1: 2/10 sessions, 2 API requests")
    assert log.lines[2].endswith("done in 12 s")


def test_listeners_receive_every_update_until_removed():
    received: list[ProgressUpdate] = []
    add_listener(received.append)
    try:
        progress = SyncProgress(Lines(), "t-2", "transcripts", todo=3, stats=RequestStats(), clock=Clock())
        progress.advance()
        progress.advance(2)
        progress.finish()
    finally:
        remove_listener(received.append)
    assert [(u.done, u.todo, u.finished) for u in received] == [
        (0, 3, False),
        (1, 3, False),
        (3, 3, False),
        (3, 3, True),
    ]
    SyncProgress(Lines(), "t-3", "transcripts", todo=1, stats=RequestStats()).advance()
    assert len(received) == 4


def test_a_failing_listener_does_not_fail_the_step():
    def broken(update: ProgressUpdate) -> None:
        raise RuntimeError("display broke")

    add_listener(broken)
    try:
        SyncProgress(Lines(), "t-4", "videos", todo=1, stats=RequestStats(), unit="videos").advance()
    finally:
        remove_listener(broken)


def test_eta_and_durations_read_well_for_long_tests():
    update = ProgressUpdate("t", "session_details", "sessions", 100, 1000, 100, 500.0, 600.0)
    assert update.eta_s == 5400.0
    assert update.line().endswith("ETA 1 h 30 min")

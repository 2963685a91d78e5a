"""What a user watching `ut-dagster sync` sees: periodic lines when piped, a bar on a terminal."""

import io

from dagster_usertesting.lib.progress import SyncProgress
from dagster_usertesting.lib.usertesting_api.stats import RequestStats
from ut_dagster.cli.progress_display import BarDisplay, progress_display


class Quiet:
    def info(self, msg: str) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_piped_output_gets_a_line_at_start_every_interval_and_at_the_end():
    stream, clock, stats = io.StringIO(), Clock(), RequestStats()
    with progress_display(stream, interval_s=10):
        progress = SyncProgress(Quiet(), "t-1", "session_details", 14, stats, clock=clock)
        for _ in range(14):
            clock.now += 6.0  # 10 requests a minute
            stats.add_wait(5.9)
            stats.count_request("details")
            progress.advance()
        progress.finish()
    lines = stream.getvalue().splitlines()
    # 84 s of work: the first line at once, then one per 10 s or more (every second session), the last.
    assert (
        lines[0]
        == "  session_details t-1: 0/14 sessions, 0 API requests, 0 s waiting for budget, ETA unknown"
    )
    assert (
        lines[1]
        == "  session_details t-1: 2/14 sessions, 2 API requests, 12 s waiting for budget, ETA 1 min 12 s"
    )
    assert lines[-1].startswith(
        "  session_details t-1: 14/14 sessions, 14 API requests, 83 s waiting for budget"
    )
    assert lines[-1].endswith("done in 1 min 24 s")
    assert len(lines) == 9


def test_nothing_is_drawn_after_the_block():
    stream = io.StringIO()
    with progress_display(stream):
        pass
    SyncProgress(Quiet(), "t-2", "transcripts", 3, RequestStats()).advance()
    assert stream.getvalue() == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_counts_requests_wait_and_eta(monkeypatch):
    monkeypatch.setenv("COLUMNS", "150")
    stream, clock, stats = Terminal(), Clock(), RequestStats()
    with progress_display(stream) as display:
        assert isinstance(display, BarDisplay)
        progress = SyncProgress(Quiet(), "t-3", "session_details", 10, stats, clock=clock)
        for _ in range(4):
            clock.now += 6.0
            stats.add_wait(6.0)
            stats.count_request("details")
            progress.advance()
    screen = stream.getvalue()
    assert "session_details" in screen
    assert "4/10" in screen
    assert "4 requests" in screen
    assert "24 s waiting for budget" in screen
    assert "ETA 36 s" in screen

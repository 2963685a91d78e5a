"""What `ut-dagster sync` shows while a test syncs: a bar per step on a terminal, else periodic lines.

Both draw the updates `dagster_usertesting.lib.progress.SyncProgress` sends to in-process listeners (the CLI
runs its Dagster runs in its own process).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from dagster_usertesting.lib.progress import ProgressUpdate, add_listener, format_duration, remove_listener


class LineDisplay:
    """One line per step when it starts, then at most every `interval_s`, and when it ends."""

    def __init__(self, stream: TextIO, interval_s: float = 10.0) -> None:
        self._stream = stream
        self._interval_s = interval_s
        self._printed_at: dict[tuple[str, str], float] = {}

    def update(self, update: ProgressUpdate) -> None:
        key = (update.test_id, update.step)
        last = self._printed_at.get(key)
        if update.finished or last is None or update.elapsed_s - last >= self._interval_s:
            self._printed_at[key] = update.elapsed_s
            print(f"  {update.line()}", file=self._stream, flush=True)

    def close(self) -> None:
        pass


class BarDisplay:
    """A rich progress bar per step: done / to do, requests, seconds waiting for budget, ETA."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("  {task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn(
                "{task.fields[unit]}, {task.fields[requests]} requests, "
                "{task.fields[waiting]} waiting for budget, {task.fields[eta]}"
            ),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._progress.start()

    def update(self, update: ProgressUpdate) -> None:
        key = (update.test_id, update.step)
        fields = {
            "unit": update.unit,
            "requests": update.requests,
            "waiting": format_duration(update.budget_wait_s),
            "eta": _eta(update),
        }
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(update.step, total=update.todo, **fields)
        self._progress.update(self._tasks[key], completed=update.done, total=update.todo, **fields)

    def close(self) -> None:
        self._progress.stop()


def _eta(update: ProgressUpdate) -> str:
    if update.finished:
        return "done"
    eta = update.eta_s
    return "ETA unknown" if eta is None else f"ETA {format_duration(eta)}"


@contextmanager
def progress_display(stream: TextIO, interval_s: float = 10.0) -> Iterator[LineDisplay | BarDisplay]:
    """Shows every step's progress while the block runs (a bar if `stream` is a terminal)."""
    display: LineDisplay | BarDisplay = (
        BarDisplay(Console(file=stream)) if stream.isatty() else LineDisplay(stream, interval_s)
    )
    add_listener(display.update)
    try:
        yield display
    finally:
        remove_listener(display.update)
        display.close()

"""Progress of a long API step: sessions done / to do, requests spent, time waiting for budget, ETA.

At 10 requests per minute a 1,000-session test takes hours, mostly spent waiting for budget. A step
reports its progress through `SyncProgress`; each report is a Dagster log line at most every
`min_interval_s` (so UI runs show it) and an update to every in-process listener (the CLI draws a bar
on a terminal, or periodic lines when output is not one).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dagster_usertesting.lib.usertesting_api.stats import RequestStats


class _Log(Protocol):
    def info(self, msg: str) -> None: ...


@dataclass(frozen=True)
class ProgressUpdate:
    """One report of a step's progress (what a listener receives)."""

    test_id: str
    step: str
    unit: str
    done: int
    todo: int
    requests: int
    budget_wait_s: float
    elapsed_s: float
    finished: bool = False

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None before the first unit is done."""
        if self.finished or self.done >= self.todo:
            return 0.0
        if self.done <= 0 or self.elapsed_s <= 0:
            return None
        return (self.todo - self.done) * self.elapsed_s / self.done

    def line(self) -> str:
        eta = self.eta_s
        parts = [
            f"{self.step} {self.test_id}: {self.done}/{self.todo} {self.unit}",
            f"{self.requests} API requests",
            f"{self.budget_wait_s:.0f} s waiting for budget",
        ]
        if self.finished:
            parts.append(f"done in {format_duration(self.elapsed_s)}")
        else:
            parts.append("ETA unknown" if eta is None else f"ETA {format_duration(eta)}")
        return ", ".join(parts)


Listener = Callable[[ProgressUpdate], None]

_listeners: list[Listener] = []
_listeners_lock = threading.Lock()


def add_listener(callback: Listener) -> None:
    """Receive every update of every step running in this process (the CLI's display)."""
    with _listeners_lock:
        _listeners.append(callback)


def remove_listener(callback: Listener) -> None:
    with _listeners_lock:
        if callback in _listeners:
            _listeners.remove(callback)


def _notify(update: ProgressUpdate) -> None:
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        # A broken display must never fail a sync.
        with contextlib.suppress(Exception):
            listener(update)


class SyncProgress:
    """Progress of one step of one test. `stats` is the step's client stats (shared, counted from now)."""

    def __init__(
        self,
        log: _Log,
        test_id: str,
        step: str,
        todo: int,
        stats: RequestStats,
        min_interval_s: float = 10.0,
        *,
        unit: str = "sessions",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._test_id = test_id
        self._step = step
        self._unit = unit
        self._todo = max(int(todo), 0)
        self._stats = stats
        self._before = stats.snapshot()
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._started = clock()
        self._done = 0
        self._finished = False
        self._lock = threading.Lock()
        # A first line at once: a step that starts by waiting for budget must not look hung.
        self._last_logged = self._started
        self._emit(self._update(), log_line=True)

    @property
    def done(self) -> int:
        return self._done

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._done += n
            now = self._clock()
            log_line = now - self._last_logged >= self._min_interval_s
            if log_line:
                self._last_logged = now
            update = self._update(now)
        self._emit(update, log_line=log_line)

    def finish(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
            update = self._update(finished=True)
        self._emit(update, log_line=True)

    def __enter__(self) -> SyncProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def _update(self, now: float | None = None, finished: bool = False) -> ProgressUpdate:
        spent = self._stats.since(self._before)
        return ProgressUpdate(
            test_id=self._test_id,
            step=self._step,
            unit=self._unit,
            done=self._done,
            todo=max(self._todo, self._done),
            requests=spent.total_requests,
            budget_wait_s=spent.budget_wait_seconds,
            elapsed_s=(self._clock() if now is None else now) - self._started,
            finished=finished,
        )

    def _emit(self, update: ProgressUpdate, *, log_line: bool) -> None:
        if log_line:
            self._log.info(update.line())
        _notify(update)


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

"""Runs whose process is gone: failed, their pool slots given back, so the queue and the sensor move on.

A run killed with its process (SIGKILL, OOM, a host restart) never reports its end: it stays STARTED
and keeps its `usertesting_api` pool slot, every run queued behind it waits forever, and the sensor
sees its test as "syncing" forever. Dagster's run monitoring cannot tell: the DefaultRunLauncher
(one process per run on the code server's host) has no worker health check in Dagster 1.13, so
monitoring only fails such a run at its `dagster/max_runtime`, hours later.

Each run says which process runs it: a daemon-launched run's worker reports its pid in its first
engine event ("Started process for run (pid: N)"), a `ut-dagster sync` run carries the CLI's host
and pid as tags. A run is released only when that process is provably gone on this very host: no
process with that pid, a zombie, or one started after the run's process was known to exist (the pid
was reused, e.g. after a reboot). Whatever cannot be told (another host, a run launcher that is not
the default one, a platform that hides process start times) is left alone: a live run must never be
failed, so doubt falls back to Dagster's own timeouts (`docs/deployment.md`).

`release_runs_of_dead_workers` is the instance-facing step, idempotent and cheap (one run query, a
few /proc reads), which `usertesting_run_recovery` runs on every tick and `ut-dagster` on start.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultRunLauncher,
    DefaultSensorStatus,
    QueuedRunCoordinator,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dagster_usertesting.defs.run_tags import CLI_HOST_TAG, CLI_PID_TAG, INTERRUPTED_TAG, run_tag

# Set by the DefaultRunLauncher on every run it launches: the code server the run worker is a child of
# (a hidden tag, hence the leading dot).
GRPC_INFO_TAG = ".dagster/grpc_info"
# The value of INTERRUPTED_TAG on a run failed here.
PROCESS_GONE = "process_gone"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# Runs that a live process should be moving (a QUEUED run has none yet; a CANCELING run is left to
# run monitoring's cancel timeout). A NOT_STARTED run has a process only when the CLI created it.
UNFINISHED = (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)
# How much later than "known to exist" a process may appear to have started and still be the same one:
# /proc gives start times relative to a boot time that moves with wall-clock adjustments. Wide on
# purpose: an error here must err towards "alive".
CLOCK_SLACK_S = 120.0
# An ended run's slots are normally released by its own process; after this long they are taken back.
ENDED_RUN_SLOT_GRACE_S = 60.0


@dataclass(frozen=True)
class RunProcess:
    """The process that runs a run, as the run recorded it."""

    run_id: str
    host: str  # the host it runs on
    pid: int
    known_at: float  # a time (epoch seconds) at which this process is known to have existed


@dataclass(frozen=True)
class ProcessSeen:
    """What this host's process table says about a pid."""

    exists: bool
    zombie: bool = False
    started_at: float | None = None  # epoch seconds; None where the platform does not tell


def run_process(
    run_id: str,
    tags: Mapping[str, str],
    created_at: float,
    worker: tuple[int, float] | None,
    *,
    this_host: str,
    launched_from_here: bool,
) -> RunProcess | None:
    """The process of a run and its host, or None when that cannot be known from here.

    `worker`: (pid, time) of the run worker's start event, when it logged one. `launched_from_here`:
    the caller runs on the host of the daemon that launches runs with the DefaultRunLauncher through
    code servers it started itself (a sensor, evaluated by the daemon), so a run whose code server
    was on a loopback address ran its worker on this host.
    """
    if (cli_host := run_tag(tags, CLI_HOST_TAG)) is not None:
        try:
            pid = int(run_tag(tags, CLI_PID_TAG) or "")
        except ValueError:
            return None
        return RunProcess(run_id, cli_host, pid, created_at)
    if worker is None or not launched_from_here:
        return None
    try:
        code_server = json.loads(tags.get(GRPC_INFO_TAG, ""))
    except ValueError:
        return None
    if not isinstance(code_server, dict) or code_server.get("host") not in LOOPBACK_HOSTS:
        return None  # a code server elsewhere: its run workers are there too
    pid, started = worker
    return RunProcess(run_id, this_host, pid, started)


def process_gone(process: RunProcess, this_host: str, seen: ProcessSeen) -> bool:
    """Whether the run's process is provably gone: on this host, and no longer the one that ran it."""
    if process.host != this_host or process.pid <= 0:
        return False
    if not seen.exists or seen.zombie:
        return True
    return seen.started_at is not None and seen.started_at > process.known_at + CLOCK_SLACK_S


def slots_to_free(
    holders: Mapping[str, float | None], now: float, grace_s: float = ENDED_RUN_SLOT_GRACE_S
) -> list[str]:
    """Runs holding pool slots whose end (epoch seconds; None while unfinished) is over `grace_s` ago.

    The same rule as run monitoring's `free_slots_after_run_end_seconds`, applied here as well so a
    deployment whose instance lacks that setting (an older Helm chart) does not lose its only slot to
    a run that a timeout or a dead pod ended.
    """
    return [run_id for run_id, ended in holders.items() if ended is not None and ended + grace_s < now]


def look_up_process(pid: int) -> ProcessSeen:
    """This host's view of `pid` (start time and zombie state from /proc where there is one)."""
    if pid <= 0:
        return ProcessSeen(exists=False)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ProcessSeen(exists=False)
    except PermissionError:
        pass  # another user's process: it exists
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return ProcessSeen(exists=True)
    # Fields after the command name, which is in parentheses and may itself hold spaces.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        state, ticks = fields[0], int(fields[19])
    except (IndexError, ValueError):
        return ProcessSeen(exists=True)
    return ProcessSeen(
        exists=True, zombie=state in ("Z", "X"), started_at=boot + ticks / os.sysconf("SC_CLK_TCK")
    )


def launches_runs_from_this_host(instance: DagsterInstance) -> bool:
    """Whether a daemon on the caller's host starts every run itself, in a local process.

    The queue means the daemon launches every run (not the webserver or `dagster job launch`), and
    the DefaultRunLauncher means it does so in a process on its code server's host.
    """
    return isinstance(instance.run_launcher, DefaultRunLauncher) and isinstance(
        instance.run_coordinator, QueuedRunCoordinator
    )


def release_runs_of_dead_workers(instance: DagsterInstance, *, launched_from_here: bool) -> list[str]:
    """Fail each unfinished run whose process is gone on this host and free its pool slots.

    `launched_from_here`: the caller is on the daemon's host (a sensor): runs launched by that daemon
    are judged too; otherwise only `ut-dagster sync` runs of this host are. Returns the run IDs released.
    """
    this_host = socket.gethostname()
    released = []
    for record in instance.get_run_records(RunsFilter(statuses=list(UNFINISHED))):
        run = record.dagster_run
        process = run_process(
            run.run_id,
            run.tags,
            record.create_timestamp.timestamp(),
            _worker_start(instance, run.run_id)
            if launched_from_here and run_tag(run.tags, CLI_HOST_TAG) is None
            else None,
            this_host=this_host,
            launched_from_here=launched_from_here,
        )
        if process is None or not process_gone(process, this_host, look_up_process(process.pid)):
            continue
        # Read again: a process that has exited wrote its run's end first, so a run still
        # unfinished now was cut off.
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in UNFINISHED:
            continue
        _release(instance, current, process)
        released.append(run.run_id)
    return released


def free_slots_of_ended_runs(instance: DagsterInstance, now: float) -> list[str]:
    """Free the pool slots still held by runs that ended over a minute ago; returns their run IDs."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = storage.get_concurrency_run_ids()
    if not holders:
        return []
    records = instance.get_run_records(RunsFilter(run_ids=list(holders)))
    ended = {r.dagster_run.run_id: r.end_time if r.dagster_run.is_finished else None for r in records}
    freed = slots_to_free(ended, now)
    for run_id in freed:
        storage.free_concurrency_slots_for_run(run_id)
    return freed


def _worker_start(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, time) of the run worker's start event: the first engine event of the run naming a pid."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=20).records
    for record in records:
        entry = record.event_log_entry
        pid = entry.get_dagster_event().engine_event_data.metadata.get("pid")
        if pid is not None:
            try:
                return int(str(pid.value)), entry.timestamp
            except ValueError:
                return None
    return None


def _release(instance: DagsterInstance, run: DagsterRun, process: RunProcess) -> None:
    who = "`ut-dagster sync` process" if run_tag(run.tags, CLI_HOST_TAG) is not None else "run worker"
    instance.add_run_tags(run.run_id, {INTERRUPTED_TAG: PROCESS_GONE})
    instance.report_run_failed(
        run,
        message=f"The {who} running it (pid {process.pid} on {process.host}) is gone: killed, or its "
        "host restarted. Its pool slots are freed; the next sync asks only for what was not landed.",
    )
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def build_run_recovery_sensor(interval_seconds: int) -> SensorDefinition:
    @sensor(
        name="usertesting_run_recovery",
        minimum_interval_seconds=interval_seconds,
        # Costs no API budget and touches only runs whose process is provably gone: always on.
        default_status=DefaultSensorStatus.RUNNING,
        description="Fails runs whose process is gone (a killed daemon, worker or `ut-dagster sync`, a "
        "host restart) and frees their pool slots, and those of runs ended without releasing them, so "
        "queued runs start and their tests sync again.",
    )
    def usertesting_run_recovery(context: SensorEvaluationContext) -> SkipReason:
        released = release_runs_of_dead_workers(
            context.instance, launched_from_here=launches_runs_from_this_host(context.instance)
        )
        for run_id in released:
            context.log.warning(f"Run {run_id} failed: its process is gone; its pool slots are freed.")
        for run_id in free_slots_of_ended_runs(context.instance, time.time()):
            context.log.warning(f"Run {run_id} had ended but still held pool slots: freed.")
        return SkipReason(_summary(released))

    return usertesting_run_recovery


def _summary(released: Iterable[str]) -> str:
    released = list(released)
    if not released:
        return "Every unfinished run has a live process (or one this host cannot see)."
    return f"Failed {len(released)} run(s) whose process is gone and freed their pool slots: {', '.join(released)}."

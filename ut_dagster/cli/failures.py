"""Why a run failed, in one line a user can act on; the whole story goes to a log file.

A failed sync used to end with ~120 log lines and three tracebacks before its one-line cause. The
CLI now prints, per failed test, what failed, what to check and the run ID; the Dagster events with
their tracebacks go to the log file whose path it prints (or to the terminal with `--verbose`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster import DagsterInstance

# What to check, by the class of the error that failed the step (Dagster keeps only its name).
HINTS = {
    # The message says whether the token itself or one test was refused; `ut-dagster tests` tells
    # the two apart (it works only with a working credential, and lists what the credential sees).
    "UserTestingAuthError": "`ut-dagster tests` shows whether the credential works and which tests it can see",
    "UserTestingNotFoundError": "`ut-dagster tests` lists the tests your credential can see; "
    "`ut-dagster forget TEST_ID` stops syncing one",
    "UserTestingUnavailableError": "UserTesting did not answer; run the sync again later "
    "(nothing already fetched is lost)",
    "UserTestingRateLimitError": "another process spends the same credential's budget; run again later",
    "BudgetUnavailableError": "the request budget is taken by other runs; run again later",
    "MalformedResponseError": "UserTesting answered something unexpected; the response is kept in the "
    "landing area, report it",
    "UserTestingBadRequestError": "the API refused the request; check USERTESTING_BASE_URL and the test ID",
    "WarehouseUnavailableError": "check the warehouse settings (UT_WAREHOUSE, UT_DUCKDB_PATH or SNOWFLAKE_*)",
    "IOException": "check that no other program holds the DuckDB file (UT_DUCKDB_PATH) open",
    "SnowflakeConfigError": "set the SNOWFLAKE_* variables named above",
    "InvalidIdError": "partition keys must be UserTesting test IDs (UUIDs); delete this partition",
}
DEFAULT_HINT = "see the log file for the details"
_DAGSTER_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


@dataclass(frozen=True)
class Failure:
    test_id: str
    run_id: str | None
    step: str | None
    error_class: str | None
    message: str
    note: str = ""
    advice: str | None = None  # what to check, when the command knows better than the error class

    @property
    def hint(self) -> str:
        return self.advice or HINTS.get(self.error_class or "", DEFAULT_HINT)

    def line(self) -> str:
        where = f"{self.step}: " if self.step else ""
        run = f" (run {self.run_id})" if self.run_id else ""
        note = f" {self.note}" if self.note else ""
        return f"FAILED {self.test_id}: {where}{self.message} -> {self.hint}.{note}{run}"


def with_evidence(failures: list[Failure], synced: int) -> list[Failure]:
    """Failures with what the command itself proved: a credential that synced `synced` other tests
    works, so a test it was refused for (HTTP 401) is about that test's access, not the secrets."""
    if not synced:
        return failures
    others = f"{synced} other test{'s' if synced > 1 else ''} synced with it in this command"
    advice = f"the credential works ({others}), so this test's access is the likely cause"
    return [
        dataclasses.replace(f, advice=advice) if f.error_class == "UserTestingAuthError" else f
        for f in failures
    ]


def failure_of(test_id: str, result: object) -> Failure:
    """The first step failure of an in-process run result, reduced to the error a user can act on."""
    for event in result.all_events:  # type: ignore[attr-defined]
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cls_name in _DAGSTER_WRAPPERS and error.cause is not None:
                error = error.cause
            return Failure(test_id, result.run_id, event.step_key, error.cls_name, _first_line(error.message))  # type: ignore[attr-defined]
    return Failure(test_id, result.run_id, None, None, "the run failed")  # type: ignore[attr-defined]


def failure_of_exception(test_id: str, exc: BaseException, run_id: str | None = None) -> Failure:
    return Failure(test_id, run_id, None, type(exc).__name__, _first_line(str(exc)))


def _first_line(message: str) -> str:
    message = message.strip()
    # Dagster prefixes the class name ("foo.BarError: message"); the line already says what failed.
    head = message.splitlines()[0] if message else "no message"
    prefix, sep, rest = head.partition(": ")
    return rest if sep and "." in prefix and " " not in prefix else head


class RunLog:
    """Every event of the CLI's runs, with tracebacks, in one file per command."""

    def __init__(self, folder: Path, command: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.path = folder / f"{command}-{stamp}.log"

    def add_run(self, instance: DagsterInstance, test_id: str, run_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"=== test {test_id}, run {run_id}\n")
            for entry in instance.all_logs(run_id):
                moment = datetime.fromtimestamp(entry.timestamp, UTC).isoformat(timespec="seconds")
                level = _level_name(entry.level)
                step = f" [{entry.step_key}]" if entry.step_key else ""
                out.write(f"{moment} {level}{step} {entry.message}\n")
                data = entry.dagster_event.event_specific_data if entry.dagster_event else None
                error = getattr(data, "error", None)
                if error is not None:
                    out.write(error.to_string() + "\n")

    def add_exception(self, test_id: str, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"=== test {test_id}\n{text}\n")


def _level_name(level: int | str) -> str:
    return logging.getLevelName(level) if isinstance(level, int) else str(level)

"""An opt-in sensor (off by default) that registers the tests found in the credential's workspaces.

Workspaces are listed through the legacy v1 API every `UT_DISCOVER_HOURS`, optionally limited to
`UT_DISCOVER_WORKSPACES` (names or UUIDs) and `UT_DISCOVER_TITLE_PATTERN` (a regular expression searched
in titles, case-insensitively). Classic tests, which the Results API cannot serve, are skipped by type.
Each candidate costs one `limit=1` listing request before it is registered, so a test the Results API
does not serve is never left registered as a partition. Candidates not probed yet wait in the cursor
for the next tick.

Only a 404 on the test means "not servable": it is remembered and not probed again. Any other refusal
(401/403, a token the token endpoint refuses after a rotated secret, a 5xx) says nothing about the
test: the tick stops there (the next candidates would meet the same credential), and the candidate is
probed again after a delay doubling from one tick up to an hour. A probe that succeeds shows the
credential works again, so every candidate waiting on such a delay is probed at once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import SensorEvaluationContext, SensorResult

from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.normalize.workspace_tests import served_by_results_api
from dagster_usertesting.lib.usertesting_api.errors import (
    BudgetUnavailableError,
    UserTestingError,
    UserTestingNotFoundError,
)
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.settings import SensorSettings

# The longest wait before a candidate refused for another reason than a 404 is probed again.
MAX_RETRY_DELAY_S = 3600.0


def select_tests(listed: Iterable[Mapping[str, Any]], title_pattern: str | None = None) -> list[TestId]:
    """Test IDs worth registering, in listing order, each once."""
    pattern = re.compile(title_pattern, re.IGNORECASE) if title_pattern else None
    found: dict[TestId, None] = {}
    for test in listed:
        if not served_by_results_api(test):
            continue
        if pattern and not pattern.search(str(test.get("title") or "")):
            continue
        try:
            found[TestId(test.get("uuid"))] = None
        except ValueError:
            continue
    return list(found)


def retry_delay(attempts: int, tick_interval_s: float, cap_s: float = MAX_RETRY_DELAY_S) -> float:
    """How long a candidate refused `attempts` times in a row (not by a 404) waits for its next probe."""
    return min(max(tick_interval_s, 1.0) * 2 ** max(attempts - 1, 0), cap_s)


@dataclass(frozen=True)
class Deferred:
    attempts: int  # probes refused in a row (not by a 404)
    retry_at: float  # epoch seconds


@dataclass
class DiscoveryMemory:
    listed_at: float | None = None
    pending: list[TestId] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # answered 404: not servable, not probed again
    deferred: dict[TestId, Deferred] = field(default_factory=dict)

    def encode(self) -> str:
        deferred = {t: [d.attempts, d.retry_at] for t, d in sorted(self.deferred.items())}
        return json.dumps(
            {
                "v": 2,
                "listed_at": self.listed_at,
                "pending": self.pending,
                "refused": self.refused,
                "deferred": deferred,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, cursor: str | None) -> DiscoveryMemory:
        try:
            body = json.loads(cursor or "{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("v") not in (1, 2):
            return cls()
        pending = _test_ids(body.get("pending"))
        if body["v"] == 1:
            # Version 1 refused a test on a 401 too (a rotated secret): probe its refusals again.
            return cls(body.get("listed_at"), pending + _test_ids(body.get("refused")))
        deferred = {}
        for test_id, value in (body.get("deferred") or {}).items():
            if isinstance(value, list) and len(value) == 2 and _test_ids([test_id]):
                deferred[TestId(test_id)] = Deferred(int(value[0]), float(value[1]))
        return cls(body.get("listed_at"), pending, list(body.get("refused") or []), deferred)


def _test_ids(values: object) -> list[TestId]:
    """The cursor's candidates that are test IDs (a cursor edited by hand may hold anything else)."""
    valid = []
    for value in values if isinstance(values, list) else []:
        try:
            valid.append(TestId(value))
        except ValueError:
            continue
    return valid


def discover_tests(
    context: SensorEvaluationContext,
    usertesting: UserTestingResource,
    settings: SensorSettings,
    clock: Callable[[], float] = time.time,
) -> SensorResult:
    deadline = time.monotonic() + settings.tick_seconds
    now = clock()
    memory = DiscoveryMemory.decode(context.cursor)
    registered = set(context.instance.get_dynamic_partitions(test_partitions.name))

    if memory.listed_at is None or now - memory.listed_at >= settings.discover_hours * 3600:
        try:
            client = usertesting.get_client(max_budget_wait=max(0.0, deadline - time.monotonic()))
            listed = list(client.list_workspace_tests(only=settings.discover_workspaces))
        except BudgetUnavailableError:
            return SensorResult(skip_reason="No rate budget to list workspaces this tick.")
        except UserTestingError as exc:
            context.log.warning(f"Listing workspaces failed, trying again next tick: {exc}")
            return SensorResult(skip_reason="Listing workspaces failed.")
        found = select_tests(listed, settings.discover_title_pattern)
        known = registered | set(memory.refused) | set(memory.pending) | set(memory.deferred)
        memory.pending += [t for t in found if t not in known]
        memory.listed_at = now

    queue = memory.pending + [t for t, d in memory.deferred.items() if d.retry_at <= now]
    added: list[TestId] = []
    while queue and time.monotonic() < deadline:
        test_id = queue[0]
        if test_id in registered or test_id in added:
            _forget_candidate(memory, queue.pop(0))
            continue
        try:
            client = usertesting.get_client(max_budget_wait=max(0.0, deadline - time.monotonic()))
            client.probe_listing(test_id)
        except BudgetUnavailableError:
            break
        except UserTestingNotFoundError as exc:
            context.log.warning(f"Not registering test {test_id}: the Results API does not serve it ({exc}).")
            _forget_candidate(memory, queue.pop(0))
            memory.refused.append(test_id)
            continue
        except UserTestingError as exc:
            # Most likely the credential (a rotated secret) or the API, not the test: stop here and
            # ask again later, without taking it as an answer about the test.
            attempts = memory.deferred[test_id].attempts + 1 if test_id in memory.deferred else 1
            delay = retry_delay(attempts, settings.interval_seconds)
            _forget_candidate(memory, test_id)
            memory.deferred[test_id] = Deferred(attempts, now + delay)
            context.log.warning(
                f"Test {test_id} not probed ({exc}); trying it again in {delay:.0f} s, the other "
                "candidates next tick."
            )
            break
        added.append(test_id)
        _forget_candidate(memory, queue.pop(0))
        # The credential works: whatever waited on a refusal is asked again now.
        queue += [t for t in memory.deferred if t not in queue]

    if added:
        context.log.info(f"Registering {len(added)} tests: {', '.join(added)}.")
        return SensorResult(
            dynamic_partitions_requests=[test_partitions.build_add_request(added)], cursor=memory.encode()
        )
    waiting = len(memory.pending) + len(memory.deferred)
    left = f"; {waiting} candidates left for later ticks" if waiting else ""
    return SensorResult(skip_reason=f"No new tests to register{left}.", cursor=memory.encode())


def _forget_candidate(memory: DiscoveryMemory, test_id: TestId) -> None:
    """`test_id` was answered (registered, or refused by a 404): it waits no more."""
    if test_id in memory.pending:
        memory.pending.remove(test_id)
    memory.deferred.pop(test_id, None)

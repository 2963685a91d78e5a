"""An opt-in sensor (off by default) that registers the tests found in the credential's workspaces.

Workspaces are listed through the legacy v1 API every `UT_DISCOVER_HOURS`, optionally limited to
`UT_DISCOVER_WORKSPACES` (names or UUIDs) and `UT_DISCOVER_TITLE_PATTERN` (a regular expression searched
in titles, case-insensitively). Classic tests, which the Results API cannot serve, are skipped by type.
Each candidate costs one `limit=1` listing request before it is registered, so a test whose first
listing answers 404 (or 401) is never left registered as a partition; it is remembered and not probed
again. Candidates not probed yet wait in the cursor for the next tick.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import SensorEvaluationContext, SensorResult

from ut_dagster.defs.usertesting.partitions import test_partitions
from ut_dagster.environment import SensorSettings
from ut_dagster.lib.ids import TestId
from ut_dagster.lib.usertesting_api.errors import (
    BudgetUnavailableError,
    UserTestingAuthError,
    UserTestingError,
    UserTestingNotFoundError,
)
from ut_dagster.lib.usertesting_api.resource import UserTestingResource

# Tests of this v1 `type` are the ones the Results API (v2/v3) serves; classic ones answer 404 there.
RESULTS_API_TYPE = "STUDYV2"


def select_tests(studies: Iterable[Mapping[str, Any]], title_pattern: str | None = None) -> list[TestId]:
    """Test IDs worth registering, in listing order, each once."""
    pattern = re.compile(title_pattern, re.IGNORECASE) if title_pattern else None
    found: dict[TestId, None] = {}
    for study in studies:
        if str(study.get("type") or "").upper() != RESULTS_API_TYPE:
            continue
        if pattern and not pattern.search(str(study.get("title") or "")):
            continue
        try:
            found[TestId(study.get("uuid"))] = None
        except ValueError:
            continue
    return list(found)


@dataclass
class DiscoveryMemory:
    listed_at: float | None = None
    pending: list[TestId] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def encode(self) -> str:
        return json.dumps(
            {"v": 1, "listed_at": self.listed_at, "pending": self.pending, "refused": self.refused},
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, cursor: str | None) -> DiscoveryMemory:
        try:
            body = json.loads(cursor or "{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("v") != 1:
            return cls()
        return cls(body.get("listed_at"), _test_ids(body.get("pending")), list(body.get("refused") or []))


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
    context: SensorEvaluationContext, usertesting: UserTestingResource, settings: SensorSettings
) -> SensorResult:
    deadline = time.monotonic() + settings.tick_seconds
    now = time.time()
    memory = DiscoveryMemory.decode(context.cursor)
    registered = set(context.instance.get_dynamic_partitions(test_partitions.name))

    if memory.listed_at is None or now - memory.listed_at >= settings.discover_hours * 3600:
        try:
            client = usertesting.get_client(max_budget_wait=max(0.0, deadline - time.monotonic()))
            studies = list(client.list_workspace_tests(only=settings.discover_workspaces))
        except BudgetUnavailableError:
            return SensorResult(skip_reason="No rate budget to list workspaces this tick.")
        except UserTestingError as exc:
            context.log.warning(f"Listing workspaces failed, trying again next tick: {exc}")
            return SensorResult(skip_reason="Listing workspaces failed.")
        found = select_tests(studies, settings.discover_title_pattern)
        known = registered | set(memory.refused) | set(memory.pending)
        memory.pending += [t for t in found if t not in known]
        memory.listed_at = now

    added: list[TestId] = []
    while memory.pending and time.monotonic() < deadline:
        test_id = memory.pending[0]
        if test_id in registered:
            memory.pending.pop(0)
            continue
        try:
            client = usertesting.get_client(max_budget_wait=max(0.0, deadline - time.monotonic()))
            client.probe_listing(test_id)
        except BudgetUnavailableError:
            break
        except (UserTestingNotFoundError, UserTestingAuthError) as exc:
            context.log.warning(f"Not registering test {test_id}: the Results API refuses it ({exc}).")
            memory.refused.append(test_id)
        except UserTestingError as exc:
            context.log.warning(f"Test {test_id} not probed, trying again next tick: {exc}")
            break
        else:
            added.append(test_id)
        memory.pending.pop(0)

    if added:
        context.log.info(f"Registering {len(added)} tests: {', '.join(added)}.")
        return SensorResult(
            dynamic_partitions_requests=[test_partitions.build_add_request(added)], cursor=memory.encode()
        )
    waiting = f"; {len(memory.pending)} candidates left for the next tick" if memory.pending else ""
    return SensorResult(skip_reason=f"No new tests to register{waiting}.", cursor=memory.encode())

"""Which held sessions to remove because UserTesting no longer lists them: a pure decision.

Only a consistent, complete walk of the listing (walk.py) is evidence at all. Even then one answer
can be wrong in a way no check sees (a count and a page that agree on too little), so a walk that
would remove more than a bounded share of what is held removes nothing: its absentees wait, and go
only when a second consistent walk, at least `confirm_hours` later, still does not list them.
The cost of that safety: a mass deletion upstream reaches the warehouse `confirm_hours` late.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dagster_usertesting.lib.sync.walk import WalkVerdict


@dataclass(frozen=True)
class DeletionPolicy:
    max_share: float = 0.10  # UT_DELETE_MAX_SHARE: removable on one walk's word, as a share of held
    max_sessions: int = 50  # UT_DELETE_MAX_SESSIONS: ... and at most this many
    confirm_hours: float = 6.0  # UT_DELETE_CONFIRM_HOURS: a larger removal waits for a walk this much later

    def allowance(self, held: int) -> int:
        """Sessions one consistent walk may remove by itself (at least one)."""
        return max(1, min(self.max_sessions, math.floor(self.max_share * held)))


@dataclass(frozen=True)
class DeletionDecision:
    delete: frozenset[str]
    # Sessions a consistent walk did not list, waiting for a later walk to agree: ID -> first absent.
    awaiting: Mapping[str, datetime] = field(default_factory=dict)
    note: str = ""  # why nothing (more) was removed, for run metadata and the asset check


def decide_deletions(
    held: Set[str],
    listed: Set[str],
    verdict: WalkVerdict,
    awaiting: Mapping[str, datetime],
    now: datetime,
    policy: DeletionPolicy,
) -> DeletionDecision:
    """What to remove after a walk that listed `listed`, given what waited for confirmation."""
    if not verdict.complete:
        # An inconsistent walk is no evidence either way: what waited keeps waiting.
        still = {s: t for s, t in awaiting.items() if s in held}
        return DeletionDecision(frozenset(), still, f"nothing removed: {verdict.reason}")
    absent = held - listed
    confirm_after = timedelta(hours=policy.confirm_hours)
    confirmed = {s for s in absent if s in awaiting and now - awaiting[s] >= confirm_after}
    unconfirmed = absent - confirmed
    if len(unconfirmed) <= policy.allowance(len(held)):
        return DeletionDecision(frozenset(absent))
    waiting = {s: awaiting.get(s, now) for s in unconfirmed}
    due = min(waiting.values()) + confirm_after
    return DeletionDecision(
        frozenset(confirmed),
        waiting,
        f"{len(unconfirmed)} of {len(held)} sessions are no longer listed, more than one walk may remove "
        f"({policy.allowance(len(held))}); they are kept until a consistent walk after "
        f"{due.isoformat(timespec='minutes')} agrees",
    )

"""The records the dataset is made of, and the API's timestamp format."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random
from typing import Any

PERSON_NAMES = (
    ("Ana Souza", "ana.souza@example.com"),
    ("Jürgen Müller", "juergen.mueller@example.com"),
    ("Priya Raman", "priya.raman@example.com"),
    ("陈静", "chen.jing@example.com"),
    ("UT Employee", "support@usertesting.com"),
)


def new_uuid(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def api_time(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds, as the API writes it: 2024-11-21T12:23:52.614Z."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class TaskDef:
    uuid: str
    type: str
    text: str
    params: dict[str, Any]


@dataclass(frozen=True)
class QxGroup:
    uuid: str
    label: str
    # Groups without navigational tasks have no behavioral component (the spec's null example).
    navigational_tasks: int


@dataclass(frozen=True)
class Study:
    test_id: str
    kind: str
    title: str
    ordered_at: datetime
    ordered_by: tuple[str, str]
    test_plan_id: str | None
    audience_ids: tuple[str, ...]
    tasks: tuple[TaskDef, ...]
    qx_groups: tuple[QxGroup, ...]
    balanced_comparison_group: str | None
    # "dto": every answer key present, the unused ones null; "sparse": only the keys that are set.
    answer_style: str


@dataclass
class SessionRecord:
    session_id: str
    test_id: str
    # Creation order within the study; the generators key their guaranteed edge cases on it.
    ordinal: int
    audience_id: str | None
    start_time: datetime
    finish_time: datetime | None
    # Breaks finishTime ties: random, so the order is stable but follows no field a client can see.
    tie_rank: int
    has_video: bool
    has_transcript: bool
    transcript_available: bool
    status: str = "COMPLETE"

    @property
    def sort_key(self) -> tuple[datetime, int]:
        # Newest first by finishTime; a session without one sorts by its start.
        return (self.finish_time or self.start_time, self.tie_rank)

    def summary(self) -> dict[str, Any]:
        """The session as GET /api/v2/sessionResults lists it."""
        return {
            "sessionId": self.session_id,
            "audienceId": self.audience_id,
            "status": self.status,
            "startTime": api_time(self.start_time),
            "finishTime": api_time(self.finish_time) if self.finish_time else None,
        }

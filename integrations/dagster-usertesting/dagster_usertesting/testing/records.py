"""The sandbox's records: the tests and sessions it holds, as the generators and the routes share them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple


def api_time(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds, as the API writes it: 2024-11-21T12:23:52.614Z."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class TaskDef(NamedTuple):
    uuid: str
    type: str
    text: str
    params: dict[str, Any]


class QxGroup(NamedTuple):
    uuid: str
    label: str
    navigational_tasks: int  # 0: no behavioral component (the spec's null example)


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
    answer_style: str  # "dto": every answer key, unused ones null; "sparse": only the set ones


@dataclass
class SessionRecord:
    session_id: str
    test_id: str
    ordinal: int  # creation order within the study: the generators key their edge cases on it
    audience_id: str | None
    start_time: datetime
    finish_time: datetime | None
    tie_rank: int  # breaks finishTime ties in an order no field a client sees explains
    has_video: bool
    has_transcript: bool
    transcript_available: bool
    status: str = "COMPLETE"

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.finish_time or self.start_time, self.tie_rank)  # listed newest first

    def summary(self) -> dict[str, Any]:
        """The session as GET /api/v2/sessionResults lists it."""
        finish = api_time(self.finish_time) if self.finish_time else None
        return {
            "sessionId": self.session_id,
            "audienceId": self.audience_id,
            "status": self.status,
            "startTime": api_time(self.start_time),
            "finishTime": finish,
        }


@dataclass(frozen=True)
class WorkspaceStudy:
    uuid: str
    title: str
    type: str
    product_type: str
    ordered_at: datetime
    ordered_by: tuple[str, str]


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    uuid: str
    studies: tuple[WorkspaceStudy, ...]

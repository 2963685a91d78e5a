"""The legacy v1 workspace endpoints, a way to discover test IDs.

Workspaces: "Research Team Workspace" holds every sandbox test plus `legacy_studies` classic studies
(which the v2 API does not serve: filter on `type`, compared case-insensitively, since the spec's own
example writes classic types in lower case); "Design Ops" holds a few; "Archive" is empty.
Each study carries a `cursor`; `after=<cursor>` returns the next 50.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from .data import Dataset
from .models import PERSON_NAMES, new_uuid
from .responses import Request, Response, json_response, v1_error

LEGACY_TITLES = (
    "Homepage first impressions (classic)",
    "App store listing test",
    "Pricing page — market insight",
    "Prototype navigation (web)",
)

PAGE = 50


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


def _cursor(position: int) -> str:
    return base64.b64encode(str(position).encode()).decode().rstrip("=")


def _position(cursor: str) -> int | None:
    try:
        return int(base64.b64decode(cursor + "=" * (-len(cursor) % 4), validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def build_workspaces(dataset: Dataset, legacy_studies: int) -> list[Workspace]:
    rng = Random(f"{dataset.seed}:workspaces")
    current = [
        WorkspaceStudy(s.test_id, s.title, "STUDYV2", s.kind, s.ordered_at, s.ordered_by)
        for s in dataset.studies
    ]
    oldest = min((s.ordered_at for s in current), default=datetime(2024, 10, 1, tzinfo=UTC))
    classic = [
        WorkspaceStudy(
            new_uuid(rng),
            f"{LEGACY_TITLES[i % len(LEGACY_TITLES)]} #{i + 1}",
            rng.choice(("web", "app", "prototype")),
            rng.choice(("insight_core", "product_insight", "market_insight")),
            oldest - timedelta(days=i + 1, minutes=rng.randint(0, 1000)),
            rng.choice(PERSON_NAMES),
        )
        for i in range(legacy_studies)
    ]
    everything = sorted(current + classic, key=lambda s: s.ordered_at, reverse=True)
    return [
        Workspace("12345", "Research Team Workspace", new_uuid(rng), tuple(everything)),
        Workspace("12346", "Design Ops", new_uuid(rng), tuple(everything[1::3])),
        Workspace("12347", "Archive", new_uuid(rng), ()),
    ]


def _study_json(study: WorkspaceStudy, position: int) -> dict[str, Any]:
    name, email = study.ordered_by
    return {
        "cursor": _cursor(position),
        "orderedAt": study.ordered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderedBy": {"email": email, "name": name},
        "productType": study.product_type,
        "title": study.title,
        "type": study.type,
        "uuid": study.uuid,
    }


def workspaces_endpoint(workspaces: list[Workspace], request: Request, workspace_id: str | None) -> Response:
    if workspace_id is None:
        return json_response(200, [{"id": w.id, "name": w.name, "uuid": w.uuid} for w in workspaces])
    found = next((w for w in workspaces if w.uuid == workspace_id.lower()), None)
    if found is None:
        return v1_error(404, "Workspace not found")
    start = 0
    if after := request.query.get("after"):
        start = _position(after[-1])
        if start is None or not 1 <= start <= len(found.studies):
            return v1_error(400, "Invalid cursor")
    page = [_study_json(s, start + i + 1) for i, s in enumerate(found.studies[start : start + PAGE])]
    return json_response(200, page)

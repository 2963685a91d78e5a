"""Every 200 the sandbox serves, for every generated session, validates against the vendor's spec."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from dagster_usertesting.testing import SandboxServer
from dagster_usertesting.testing.content import FUTURE_TASK_TYPES

# Vendored (see integrations/dagster-usertesting/dagster_usertesting_tests/specs/README.md): the contract tests run in every clone and never skip.
SPECS = Path(__file__).resolve().parents[1] / "specs"
RESULTS_SPEC = SPECS / "results-v2-openapi.yml"
LEGACY_SPEC = SPECS / "legacy-v1-openapi.yml"
_API_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str) or not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("url")
def _url(value: object) -> bool:
    return (
        isinstance(value, str)
        and urlsplit(value).scheme in ("http", "https")
        and bool(urlsplit(value).netloc)
    )


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12: `nullable` becomes anyOf null, refs point at $defs."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "example", "description"):
            continue
        if key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key == "properties":
            out[key] = {name: to_json_schema(schema) for name, schema in value.items()}
        else:
            out[key] = to_json_schema(value)
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


@cache
def _definitions(path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: to_json_schema(schema) for name, schema in spec["components"]["schemas"].items()}


def validator(path: Path, name: str, *, array: bool = False) -> Draft202012Validator:
    ref = {"$ref": f"#/$defs/{name}"}
    schema = {"$defs": _definitions(path), **({"type": "array", "items": ref} if array else ref)}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def assert_valid(check: Draft202012Validator, instance: Any, what: str) -> None:
    errors = []
    for error in check.iter_errors(instance):
        path = list(error.absolute_path)
        # Deliberate: the API will add task types the spec does not list yet, so the sandbox serves one.
        future_type = error.validator == "enum" and path[:1] == ["tasks"] and path[-1:] == ["type"]
        if not (future_type and error.instance in FUTURE_TASK_TYPES):
            errors.append(f"{'/'.join(map(str, path))}: {error.message}")
    assert not errors, f"{what} does not match the spec:\n" + "\n".join(errors[:10])


def get_ok(api: httpx.Client, path: str, **params: Any) -> httpx.Response:
    response = api.get(path, params=params)
    assert response.status_code == 200, (path, response.text)
    assert response.headers["cache-control"] == "private, no-store"
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert response.headers[header].isdigit(), header
    return response


@pytest.fixture
def contract_sandbox(start_sandbox: Any) -> SandboxServer:
    return start_sandbox(video_size_bytes=2048)


def test_every_served_payload_matches_the_results_spec(contract_sandbox: SandboxServer) -> None:
    sandbox = contract_sandbox
    listing = validator(RESULTS_SPEC, "SessionSummaryResultsResponseDto")
    details = validator(RESULTS_SPEC, "SessionResultsV3ResponseDto")
    video = validator(RESULTS_SPEC, "VideoDownloadResponseDto")
    qx = validator(RESULTS_SPEC, "QxScoreResponseApi")
    counts = {"v3": 0, "transcript": 0, "video": 0, "qx": 0}
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        for test_id in sandbox.test_ids:
            page = get_ok(api, "/api/v2/sessionResults", testId=test_id, limit=500, offset=0).json()
            assert_valid(listing, page, f"listing of {test_id}")
            assert [s["sessionId"] for s in page["sessions"]] == sandbox.dataset.session_ids(test_id)
            for summary in page["sessions"]:
                assert _API_TIME.match(summary["startTime"])
                assert summary["finishTime"] is None or _API_TIME.match(summary["finishTime"])
                session_id = summary["sessionId"]
                body = get_ok(api, f"/api/v3/sessionResults/{session_id}").json()
                assert_valid(details, body, f"v3 details of {session_id}")
                assert body == sandbox.dataset.payload(session_id)
                counts["v3"] += 1
                record = sandbox.dataset.session(session_id)
                assert record is not None
                if record.transcript_available:
                    response = get_ok(api, f"/api/v2/sessionResults/{session_id}/transcript")
                    assert response.headers["content-type"].startswith("text/vtt")
                    assert response.content.decode("utf-8") == sandbox.dataset.transcript(session_id)
                    counts["transcript"] += 1
                if record.has_video:
                    link = get_ok(api, f"/api/v2/sessionResults/{session_id}/videoDownloadUrl").json()
                    assert_valid(video, link, f"video link of {session_id}")
                    assert _API_TIME.match(link["expiresAt"]) and link["sessionId"] == session_id
                    counts["video"] += 1
            qx_response = api.get(f"/api/v2/testResults/{test_id}/qxScores")
            if qx_response.status_code == 200:
                assert_valid(qx, qx_response.json(), f"qxScores of {test_id}")
                counts["qx"] += 1
    assert all(counts.values()), counts
    assert sandbox.server_errors == []


def test_legacy_workspace_listings_match_the_v1_spec(contract_sandbox: SandboxServer) -> None:
    sandbox = contract_sandbox
    workspaces = validator(LEGACY_SPEC, "Workspace", array=True)
    studies = validator(LEGACY_SPEC, "WorkspaceStudy", array=True)
    headers = {"Authorization": f"Bearer {sandbox.static_token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        listed = get_ok(api, "/usertesting/api/v1/workspaces").json()
        assert_valid(workspaces, listed, "workspaces")
        seen: set[str] = set()
        for workspace in listed:
            page = get_ok(api, f"/usertesting/api/v1/workspaces/{workspace['uuid']}").json()
            assert_valid(studies, page, f"studies of workspace {workspace['name']}")
            seen |= {s["uuid"] for s in page if s["type"].upper() == "STUDYV2"}
    assert seen == set(sandbox.test_ids)


def test_the_converted_schemas_still_catch_deviations(sandbox: SandboxServer) -> None:
    details = validator(RESULTS_SPEC, "SessionResultsV3ResponseDto")
    session_id = sandbox.dataset.session_ids(sandbox.test_ids[0])[0]
    good = sandbox.dataset.payload(session_id)
    assert not list(details.iter_errors(good))
    broken = [
        {**good, "taskGroups": None},  # lists are not nullable
        {**good, "sessionId": "not-a-uuid"},
        {k: v for k, v in good.items() if k != "testPlanId"},  # required even when null
        {**good, "tasks": [{**good["tasks"][0], "response": {"skipped": "no"}}]},
        {
            **good,
            "taskGroups": [{"uuid": good["tasks"][0]["uuid"], "type": "QX_SCORE", "response": {"x": 1}}],
        },
    ]
    for payload in broken:
        assert list(details.iter_errors(payload)), payload
    assert not list(details.iter_errors({**good, "sessionParticipant": None, "audienceId": None}))

"""The legacy v1 workspace listing: a way to discover test IDs, paged by cursor."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from dagster_usertesting.testing import SURVEY, SandboxServer, StudySpec


def test_legacy_workspaces_page_with_cursors(start_sandbox: Callable[..., SandboxServer]) -> None:
    sandbox = start_sandbox(legacy_studies=120, studies=(StudySpec(SURVEY, 3),))
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.static_token}"}
    ) as api:
        research = api.get("/usertesting/api/v1/workspaces").json()[0]["uuid"]
        path = f"/usertesting/api/v1/workspaces/{research}"
        pages = [api.get(path).json()]
        while len(pages[-1]) == 50:
            pages.append(api.get(path, params={"after": pages[-1][-1]["cursor"]}).json())
        studies = [s for page in pages for s in page]
        assert [len(p) for p in pages] == [50, 50, 21] and len({s["uuid"] for s in studies}) == 121
        assert [s["uuid"] for s in studies if s["type"] == "STUDYV2"] == sandbox.test_ids
        bad = api.get(path, params={"after": "!!"})
        assert bad.status_code == 400 and bad.json() == {
            "errorCode": "BAD_REQUEST",
            "errorMessage": "Invalid cursor",
        }
        archive = api.get("/usertesting/api/v1/workspaces").json()[2]["uuid"]
        assert api.get(f"/usertesting/api/v1/workspaces/{archive}").json() == []

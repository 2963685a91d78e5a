"""ut-dagster's fixtures: the dbt assets, the CLI's environment, the synced-as-served check.

The sandbox, API resources, moto and the live instance every test gets are the workspace's
(conftest.py at the repository root), shared with the integration's tests.
"""

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetsDefinition, DagsterInstance

from dagster_usertesting.testing import SandboxServer

if "PYTEST_XDIST_WORKER" not in os.environ:
    # dbt's manifest reflects the models as they are now (after an edit, on a fresh checkout), made
    # once by the dbt component's own preparation (`dg utils refresh-defs-state`), before
    # pytest-xdist starts the workers that load it, and only when a project file changed since
    # (`make test` has just prepared it): a `dbt parse` is ~15 s of CPU.
    from dagster_dbt import DbtProject

    from ut_dagster.defs.research_marts.project import dbt_project_dir, manifest_outdated

    if manifest_outdated(DbtProject(dbt_project_dir())):
        subprocess.run(
            [Path(sys.executable).with_name("dg"), "utils", "refresh-defs-state"],
            cwd=Path(__file__).resolve().parents[1],
            check=True,
        )


@pytest.fixture(scope="session")
def usertesting_dbt_assets(tmp_path_factory: pytest.TempPathFactory) -> AssetsDefinition:
    """The dbt assets as the code location builds them (the component of defs/research_marts), eager:
    rebuilt after every change (UT_MARTS_MIN_INTERVAL_MINUTES=0; the interval has its own tests)."""
    from ut_dagster.definitions import build_definitions
    from ut_dagster.environment import Settings

    data = str(tmp_path_factory.mktemp("dbt_assets"))
    settings = Settings.from_env({"UT_DATA_DIR": data, "UT_MARTS_MIN_INTERVAL_MINUTES": "0"})
    with DagsterInstance.ephemeral():
        defs = build_definitions(settings)
    # As defined, without the code location's resources bound (resolve_assets_def binds them).
    test_summary = AssetKey(["usertesting_marts", "test_summary"])
    return next(a for a in defs.assets or [] if isinstance(a, AssetsDefinition) and test_summary in a.keys)


@pytest.fixture
def cli_env(tmp_path) -> Callable[[SandboxServer], dict[str, str]]:
    """The environment a user would set to run `ut-dagster` against a sandbox, state under tmp_path."""

    def env(sandbox: SandboxServer) -> dict[str, str]:
        return {
            **os.environ,
            "UT_DATA_DIR": str(tmp_path / "data"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            **sandbox.client_environment(),
            # A test's API step is held 30 s past its holder's death instead of 120 s, and a contender
            # waits 37.5 s for a live one (two overlapping syncs of a test take turns within that).
            # The tests that kill a sync shorten it to 10 s: nothing else contends there.
            "USERTESTING_STEP_LEASE_SECONDS": "30",
        }

    return env


@pytest.fixture
def assert_synced_as_served() -> Callable[..., None]:
    """Asserts a synced warehouse holds, per test, exactly what the sandbox served, once.

    `synced` is anything with `.sandbox` and `.table(name)` -> every row of a table, with its test_id
    (DuckDB or Snowflake pipelines); each table is read once.
    """

    def check(synced: Any, test_ids: list[str]) -> None:
        dataset = synced.sandbox.dataset
        whole = functools.cache(synced.table)  # one warehouse connection per table, not per test

        def table(name: str, test_id: str) -> Any:
            rows = whole(name)
            return rows[rows.test_id == test_id]

        for test_id in test_ids:
            expected_ids = set(dataset.session_ids(test_id))
            for name in ("raw_sessions", "session_details", "sessions"):
                ids = table(name, test_id)["session_id"]
                assert set(ids) == expected_ids and ids.is_unique, name

            for row in table("session_details", test_id).itertuples():
                assert json.loads(row.details_json) == dataset.served_payload(row.session_id)

            tasks = table("tasks", test_id)
            for session_id in expected_ids:
                served = dataset.served_payload(session_id)["tasks"]
                rows = tasks[tasks.session_id == session_id].sort_values("position")
                assert len(rows) == len(served)
                for row, task in zip(rows.itertuples(), served, strict=True):
                    answer = (task.get("response") or {}).get("answer")
                    assert (json.loads(row.answer_json) if row.answer_json is not None else None) == answer
                    assert row.task_type == task["type"]

            served_demographics = sum(
                len((dataset.served_payload(s).get("sessionParticipant") or {}).get("demographicsInfo") or [])
                for s in expected_ids
            )
            assert len(table("demographics", test_id)) == served_demographics

            transcripts = table("transcripts", test_id)
            with_transcript = {s for s in expected_ids if dataset.transcript(s) is not None}
            assert set(transcripts.session_id) == with_transcript
            for row in transcripts.itertuples():
                assert row.transcript_vtt == dataset.transcript(row.session_id)
                assert "-->" not in row.transcript_plain_text
            cues = transcripts.set_index("session_id")["cue_count"]
            chunks = table("transcript_chunks", test_id)
            assert set(chunks.session_id) == {s for s in with_transcript if cues[s] > 0}

        qx = whole("qx_scores")
        assert set(qx.test_id) == {t for t in test_ids if dataset.qx_scores(t) is not None}

    return check

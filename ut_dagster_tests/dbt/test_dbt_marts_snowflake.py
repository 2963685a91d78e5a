"""`dbt build` with the real dbt-snowflake adapter against a fakesnow server, marts checked in Python.

This exercises the Snowflake side of every dispatch macro (TRY_PARSE_JSON, GET_PATH, LATERAL FLATTEN,
OBJECT_AGG) and the project's own snowflake profile target. The only test-specific shim is where
the profile points: fakesnow's host, port and plain http, added to a copy of the real target.
dbt runs in a subprocess under a timeout because the Snowflake connector retries a failed request
for minutes, and that is not a failure mode a test should wait out.
"""

import json
import os
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from ut_dagster.defs.research_marts.alerts import (
    QX_SCORE_COMPARISON_SQL,
    qx_score_comparison,
    qx_score_drops,
)
from ut_dagster.defs.research_marts.project import dbt_executable, dbt_project_dir

DBT_PROJECT_DIR = dbt_project_dir()

DBT_TIMEOUT_SECONDS = 180
TEST_A = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
TEST_B = "0b6b1c7e-2f55-4a43-9d4f-5d2b8f6c1a10"


def _profiles_dir(tmp_path: Path, server: dict[str, Any]) -> Path:
    """The project's profiles.yml with its snowflake target pointed at fakesnow."""
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    target = profiles["ut_dagster"]["outputs"]["snowflake"]
    target.update(host=server["host"], port=server["port"], protocol="http", connect_retries=0, threads=1)
    profiles["ut_dagster"]["outputs"] = {"snowflake": target}
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "profiles.yml").write_text(yaml.safe_dump(profiles), encoding="utf-8")
    return directory


def _fetch(cursor: Any, sql: str) -> list[dict[str, Any]]:
    cursor.execute(sql)
    names = [c[0].lower() for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _approx(value: Any) -> Any:
    return pytest.approx(value) if isinstance(value, float) else value


@pytest.mark.filterwarnings("ignore::UserWarning:fakesnow")
def test_dbt_build_on_snowflake_via_fakesnow(research: SimpleNamespace, tmp_path: Path) -> None:
    fakesnow = pytest.importorskip("fakesnow")
    import snowflake.connector

    # No qx_scores table (a test whose QXscores were never synced): the Snowflake side of the
    # missing-source path; the QXscore then comes from the sessions' task groups.
    raw = {name: rows for name, rows in research.rows.items() if name != "qx_scores"}

    # The server's in-memory databases are shared by the whole process: use a database of our own.
    database = f"UT_DBT_{uuid.uuid4().hex[:8].upper()}"
    with fakesnow.server() as server:
        connection = snowflake.connector.connect(**server, database=database)
        cursor = connection.cursor()
        research.create_tables(cursor.execute, raw, "snowflake")

        env = {
            **os.environ,
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": server["user"],
            "SNOWFLAKE_PASSWORD": server["password"],
            "SNOWFLAKE_DATABASE": database,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        for name in (
            "SNOWFLAKE_PRIVATE_KEY",
            "SNOWFLAKE_PRIVATE_KEY_PATH",
            "SNOWFLAKE_ROLE",
            "SNOWFLAKE_WAREHOUSE",
        ):
            env.pop(name, None)
        profiles_dir = _profiles_dir(tmp_path, server)

        def dbt_build(*selection: str) -> str:
            command = [
                dbt_executable(),  # the one beside this interpreter, as the code location runs it
                "build",
                "--target",
                "snowflake",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(profiles_dir),
                "--target-path",
                str(tmp_path / "target"),
                "--log-path",
                str(tmp_path / "logs"),
                *selection,
            ]
            try:
                completed = subprocess.run(
                    command, env=env, capture_output=True, text=True, timeout=DBT_TIMEOUT_SECONDS, check=False
                )
            except subprocess.TimeoutExpired as timeout:
                output = (
                    timeout.stdout.decode() if isinstance(timeout.stdout, bytes) else (timeout.stdout or "")
                )
                pytest.fail(
                    f"dbt build against fakesnow did not finish in {DBT_TIMEOUT_SECONDS}s:\n{output[-5000:]}"
                )
            assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]
            assert "WARN=0 ERROR=0 SKIP=0" in completed.stdout
            return completed.stdout

        dbt_build()
        metrics = {
            (r["test_id"], r["task_uuid"]): r
            for r in _fetch(cursor, "select * from usertesting_marts.task_metrics")
        }
        shares = _fetch(
            cursor, "select test_id, task_uuid, option_label, share from usertesting_marts.task_option_shares"
        )
        sessions = {
            (r["test_id"], r["session_id"]): r
            for r in _fetch(cursor, "select * from usertesting_marts.session_summary")
        }
        tests = {r["test_id"]: r for r in _fetch(cursor, "select * from usertesting_marts.test_summary")}

        # The next build, incremental on Snowflake: test A's participants' QXscores fall from
        # 80, 70, 60 (mean 70) to 20, 30, 40 (mean 30); test B's stay at 45.
        cursor.execute(
            f"update usertesting.task_groups set qx_score = qx_score - 40 where test_id = '{TEST_A}'"
        )
        dbt_build("--select", "session_summary", "test_summary", "qx_score_history")
        history = _fetch(
            cursor,
            "select test_id, qx_score from usertesting_marts.qx_score_history order by observed_at, test_id",
        )
        compared = _fetch(cursor, QX_SCORE_COMPARISON_SQL)
        connection.close()

    # The alert's own query, in Snowflake's dialect: A's previous score is the first build's.
    assert [(r["test_id"], r["qx_score"]) for r in history] == [
        (TEST_B, pytest.approx(45.0)),
        (TEST_A, pytest.approx(70.0)),
        (TEST_A, pytest.approx(30.0)),
    ]
    drops = qx_score_drops(*qx_score_comparison(compared), max_drop=5.0)
    assert [(d["test_id"], d["previous"], d["current"]) for d in drops] == [
        (TEST_A, pytest.approx(70.0), pytest.approx(30.0))
    ]

    assert metrics[(TEST_A, "task-nps")]["nps"] == pytest.approx(25.0)
    for key, want in research.expected_task_metrics(raw).items():
        assert {k: metrics[key][k] for k in want} == {k: _approx(v) for k, v in want.items()}, key

    expected_shares = research.expected_option_shares(research.selections)
    assert {(r["test_id"], r["task_uuid"], r["option_label"]): r["share"] for r in shares} == {
        k: pytest.approx(v) for k, v in expected_shares.items()
    }

    for key, want in research.expected_session_summary(raw).items():
        # fakesnow reads a NULL timestamp back as the epoch, so session durations of sessions
        # without a finish time are not comparable; everything else is.
        want = {k: v for k, v in want.items() if not (k == "session_duration_seconds" and v is None)}
        assert {k: sessions[key][k] for k in want} == {k: _approx(v) for k, v in want.items()}, key
    assert sessions[(TEST_A, "a1")]["demographic_gender"] == "Female"
    assert json.loads(sessions[(TEST_A, "a1")]["demographics_json"]) == {
        "GENDER": "Female",
        "AGE_GROUP": "25-34",
        "COUNTRY": "US",
    }

    for test_id, want in research.expected_test_summary(raw).items():
        assert {k: tests[test_id][k] for k in want} == {k: _approx(v) for k, v in want.items()}, test_id
    assert tests[TEST_A]["video_coverage"] == pytest.approx(1 / 5)  # the videos table exists here
    assert (tests[TEST_A]["qx_score"], tests[TEST_A]["qx_score_source"]) == (pytest.approx(70.0), "sessions")

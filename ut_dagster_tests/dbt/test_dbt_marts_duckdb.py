"""`dbt build` on DuckDB through Dagster (one dbt invocation), then every mart against plain Python.

The raw tables are made from schema.py and filled with hand-made rows; `usertesting.session_videos`
is left out on purpose, as in a deployment that never archived a video.
"""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

TEST_A = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
TEST_B = "0b6b1c7e-2f55-4a43-9d4f-5d2b8f6c1a10"


def _rows(path: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        cursor = connection.execute(sql)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _approx(value: float | None) -> Any:
    return None if value is None else pytest.approx(value)


@pytest.fixture(scope="module")
def built(
    research_module: SimpleNamespace,
    tmp_path_factory: pytest.TempPathFactory,
    usertesting_dbt_assets: dg.AssetsDefinition,
):
    """One `dbt build` for the whole module: dbt invocations cost seconds each."""
    from ut_dagster.defs.research_marts.alerts import build_research_alert_checks
    from ut_dagster.defs.research_marts.resources import dbt_resource
    from ut_dagster.environment import AlertThresholds

    tmp_path = tmp_path_factory.mktemp("dbt_duckdb")
    path = tmp_path / "warehouse.duckdb"
    raw = {name: rows for name, rows in research_module.rows.items() if name != "session_videos"}
    with duckdb.connect(str(path)) as connection:
        research_module.create_tables(connection.execute, raw, "duckdb")

    checks = build_research_alert_checks(
        AlertThresholds(max_task_skip_rate=0.3, min_nps=0.0, max_qx_score_drop=5.0)
    )
    resources = {
        "dbt": dbt_resource("duckdb", duckdb_path=path),
        "warehouse": DuckDBResource(database=str(path)),
    }
    with pytest.MonkeyPatch.context() as monkeypatch, dg.instance_for_test() as instance:
        monkeypatch.delenv("UT_DUCKDB_PATH", raising=False)  # the resource hands dbt the path
        monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))  # keep dbt_project/ clean
        result = dg.materialize([usertesting_dbt_assets, *checks], resources=resources, instance=instance)
        yield SimpleNamespace(path=path, raw=raw, result=result)


def test_dbt_build_marts_match_python(
    built: SimpleNamespace, research_module: SimpleNamespace, usertesting_dbt_assets: dg.AssetsDefinition
) -> None:

    research = research_module
    result: dg.ExecuteInProcessResult = built.result
    assert result.success
    # Every dbt test ran as an asset check and passed (the alerts are checked below).
    alerts = {"task_skip_rate_alert", "nps_floor_alert", "qx_score_drop_alert"}
    dbt_checks = [e for e in result.get_asset_check_evaluations() if e.check_name not in alerts]
    assert len(dbt_checks) == len(list(usertesting_dbt_assets.check_specs))
    assert all(e.passed for e in dbt_checks)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == set(usertesting_dbt_assets.keys)

    # task_metrics: headline numbers spelled out, then every row against Python.
    metrics = {
        (r["test_id"], r["task_uuid"]): r
        for r in _rows(built.path, "select * from usertesting_marts.task_metrics")
    }
    assert metrics[(TEST_A, "task-nps")]["nps"] == pytest.approx(25.0)  # 10, 9, 7, 3 (not the stale 10)
    assert metrics[(TEST_A, "task-nps")]["p90_time_on_task_seconds"] == pytest.approx(37.0)
    assert metrics[(TEST_A, "task-written")]["skip_rate"] == pytest.approx(0.5)
    assert (TEST_A, "task-gone") not in metrics  # only in an older extraction
    expected = research.expected_task_metrics(built.raw)
    assert set(metrics) == set(expected)
    for key, want in expected.items():
        got = metrics[key]
        assert {k: got[k] for k in want} == {k: _approx(v) for k, v in want.items()}, key

    shares = {
        (r["test_id"], r["task_uuid"], r["option_label"]): r["share"]
        for r in _rows(built.path, "select * from usertesting_marts.task_option_shares")
    }
    assert shares == {
        k: pytest.approx(v) for k, v in research.expected_option_shares(research.selections).items()
    }
    assert shares[(TEST_A, "task-choice", "Option A")] == pytest.approx(2 / 3)

    ratings = _rows(
        built.path,
        "select rating_value, responses, share from usertesting_marts.task_rating_distribution order by 1",
    )
    assert ratings == [
        {"rating_value": 4.0, "responses": 2, "share": pytest.approx(2 / 3)},
        {"rating_value": 5.0, "responses": 1, "share": pytest.approx(1 / 3)},
    ]

    sessions = {
        (r["test_id"], r["session_id"]): r
        for r in _rows(built.path, "select * from usertesting_marts.session_summary")
    }
    for key, want in research.expected_session_summary(built.raw).items():
        assert {k: sessions[key][k] for k in want} == {
            k: _approx(v) if isinstance(v, float) else v for k, v in want.items()
        }, key
    a1 = sessions[(TEST_A, "a1")]
    assert (a1["audience_id"], a1["participant_id"]) == ("aud-1", "participant-a1")  # latest extraction wins
    assert (a1["demographic_gender"], a1["demographic_age_group"], a1["comparison_sequence"]) == (
        "Female",
        "25-34",
        "AB",
    )
    assert sessions[(TEST_B, "b1")]["demographic_income"] == "50k-75k"  # code matched case-insensitively

    tests = {r["test_id"]: r for r in _rows(built.path, "select * from usertesting_marts.test_summary")}
    assert (tests[TEST_A]["qx_score"], tests[TEST_A]["qx_score_source"]) == (72.5, "api")
    assert (tests[TEST_B]["qx_score"], tests[TEST_B]["qx_score_source"]) == (45.0, "sessions")
    assert tests[TEST_A]["transcript_coverage"] == pytest.approx(2 / 5)  # a5 is listed, not detailed
    for test_id, want in research.expected_test_summary(built.raw).items():
        assert {k: tests[test_id][k] for k in want} == {
            k: _approx(v) if isinstance(v, float) else v for k, v in want.items()
        }


def test_marts_are_documented_as_built_and_record_row_counts_and_column_types(
    built: SimpleNamespace, usertesting_dbt_assets: dg.AssetsDefinition
) -> None:
    """What the UI shows of a mart: every column as dbt built it, documented and typed; its row count."""

    documented = {
        spec.key: spec.metadata["dagster/column_schema"]
        for spec in usertesting_dbt_assets.specs
        if spec.key.path[0] == "usertesting_marts"
    }
    events = {
        e.asset_key: e.materialization.metadata for e in built.result.get_asset_materialization_events()
    }
    for key, schema in documented.items():
        table = ".".join(key.path)
        with duckdb.connect(str(built.path), read_only=True) as connection:
            actual = connection.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                list(key.path),
            ).fetchall()
            count = connection.execute(f"select count(*) from {table}").fetchall()[0][0]
        assert [(c.name, c.type.upper()) for c in schema.columns] == [
            (name, "TIMESTAMP" if kind.startswith("TIMESTAMP") else kind) for name, kind in actual
        ], table
        recorded = events[key]
        assert recorded["dagster/row_count"].value == count, table
        # Types as the warehouse names them: VARCHAR, not dbt's generic "character varying(256)".
        assert [(c.name, c.type) for c in recorded["dagster/column_schema"].schema.columns] == actual, table


def test_research_alerts_warn_on_the_built_marts(built: SimpleNamespace) -> None:
    evaluations = {e.check_name: e for e in built.result.get_asset_check_evaluations()}
    skip, nps, qx = (
        evaluations[n] for n in ("task_skip_rate_alert", "nps_floor_alert", "qx_score_drop_alert")
    )
    assert (skip.passed, skip.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert skip.metadata["tasks_over_threshold"].value == 1  # task-written, skipped by 2 of 4
    assert "Written task task-written" in skip.metadata["tasks"].value
    assert (nps.passed, nps.metadata["tests_below_floor"].value) == (False, 1)  # test B: NPS -100
    assert TEST_B in nps.metadata["tests"].value  # not in the test list: named by its ID
    # Tests are named by title and ID; the title's pipe is escaped in the Markdown table.
    assert f"| Checkout \\| flow ({TEST_A}) |" in skip.metadata["tasks"].value
    # The first build has no earlier QXscore to compare with (later builds: test_qx_score_drop_alert_duckdb.py).
    assert (qx.passed, qx.metadata["tests_dropped"].value, qx.metadata["tests_compared"].value) == (
        True,
        0,
        0,
    )
    history = _rows(built.path, "select test_id, qx_score from usertesting_marts.qx_score_history")
    assert sorted((r["test_id"], r["qx_score"]) for r in history) == sorted([(TEST_A, 72.5), (TEST_B, 45.0)])

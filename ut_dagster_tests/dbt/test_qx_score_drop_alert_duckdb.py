"""The QXscore-drop alert across real `dbt build`s on DuckDB, its memory being qx_score_history.

One DuckDB file, four builds of the marts, as syncs change the raw tables in between:

    build   test A (API QXscore)   test B (participants' mean)   alert
    1       80                     45                            none: nothing earlier
    2       60                     no score                      A dropped 20
    3       60                     no score                      none: nothing changed
    4       60                     30                            B dropped 15 (compared with build 1)

Each build runs in a fresh Dagster instance: no run history carries the previous scores, only the
warehouse does.
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
MAX_DROP = 10.0


def _history(path: Path) -> list[tuple[str, float]]:
    """qx_score_history in build order (then by test_id: test B's ID sorts first)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "select test_id, qx_score from usertesting_marts.qx_score_history order by observed_at, test_id"
        ).fetchall()
    return [(test_id, score) for test_id, score in rows]


def _execute(path: Path, *statements: str) -> None:
    with duckdb.connect(str(path)) as connection:
        for statement in statements:
            connection.execute(statement)


@pytest.fixture(scope="module")
def builds(
    research_module: SimpleNamespace,
    usertesting_dbt_assets: dg.AssetsDefinition,
    tmp_path_factory: pytest.TempPathFactory,
) -> SimpleNamespace:
    from ut_dagster.defs.research_marts.alerts import QX_SCORE_HISTORY, build_research_alert_checks
    from ut_dagster.defs.research_marts.resources import dbt_resource
    from ut_dagster.environment import AlertThresholds

    tmp_path = tmp_path_factory.mktemp("qx_history")
    path = tmp_path / "warehouse.duckdb"
    raw = dict(research_module.rows)
    # Test A's API QXscore is 80 (its latest extraction); test B has none, so its participants' mean.
    raw["qx_scores"] = [{**row, "qx_score": 80.0} for row in raw["qx_scores"]]
    with duckdb.connect(str(path)) as connection:
        research_module.create_tables(connection.execute, raw, "duckdb")

    checks = build_research_alert_checks(AlertThresholds(max_qx_score_drop=MAX_DROP))
    dbt = dbt_resource("duckdb", duckdb_path=path)
    resources = {"dbt": dbt, "warehouse": DuckDBResource(database=str(path))}
    # The history and what it is built from, and the alert: the other marts cost build time only.
    selection = dg.AssetSelection.assets(QX_SCORE_HISTORY).upstream() & dg.AssetSelection.assets(
        usertesting_dbt_assets
    )
    results: list[dict[str, Any]] = []

    def build() -> None:
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [usertesting_dbt_assets, *checks], resources=resources, instance=instance, selection=selection
            )
        assert result.success
        (qx,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "qx_score_drop_alert"]
        results.append({"alert": qx, "history": _history(path)})

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("UT_DUCKDB_PATH", raising=False)  # the resource hands dbt the path
        monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))  # keep dbt_project/ clean
        build()
        # A sync brings test A down to 60; test B's sessions lose their QXscores.
        _execute(
            path,
            "update usertesting.qx_scores set qx_score = 60",
            f"update usertesting.task_groups set qx_score = null where test_id = '{TEST_B}'",
        )
        build()
        build()  # nothing changed
        # A full refresh, by hand or by a deployment script, must not wipe the history.
        dbt.cli(["build", "--full-refresh", "--select", "qx_score_history"]).wait()
        history_after_full_refresh = _history(path)
        # Test B's QXscores come back, at 30.
        _execute(path, f"update usertesting.task_groups set qx_score = 30 where test_id = '{TEST_B}'")
        build()
    return SimpleNamespace(results=results, history_after_full_refresh=history_after_full_refresh)


def _dropped(evaluation: dg.AssetCheckEvaluation) -> tuple[bool, int, str]:
    return (evaluation.passed, evaluation.metadata["tests_dropped"].value, evaluation.metadata["tests"].value)


def test_the_first_build_records_every_score_and_has_nothing_to_compare(builds: SimpleNamespace) -> None:
    first = builds.results[0]
    assert first["history"] == [(TEST_B, 45.0), (TEST_A, 80.0)]
    assert _dropped(first["alert"])[:2] == (True, 0)
    assert first["alert"].severity == dg.AssetCheckSeverity.WARN


def test_a_drop_beyond_the_threshold_warns_with_the_scores(builds: SimpleNamespace) -> None:
    second = builds.results[1]
    passed, dropped, table = _dropped(second["alert"])
    assert (passed, dropped) == (False, 1)
    assert f"| Checkout \\| flow ({TEST_A}) | 80 | 60 | 20 |" in table
    # Only the change is recorded; test B, without a score, adds nothing.
    assert second["history"] == [(TEST_B, 45.0), (TEST_A, 80.0), (TEST_A, 60.0)]


def test_an_unchanged_score_neither_warns_again_nor_grows_the_history(builds: SimpleNamespace) -> None:
    second, third = builds.results[1:3]
    assert _dropped(third["alert"])[:2] == (True, 0)
    assert third["history"] == second["history"]
    assert builds.history_after_full_refresh == third["history"]


def test_a_test_without_a_score_for_a_while_compares_with_its_last_score(builds: SimpleNamespace) -> None:
    fourth = builds.results[3]
    passed, dropped, table = _dropped(fourth["alert"])
    assert (passed, dropped) == (False, 1)
    assert f"| {TEST_B} | 45 | 30 | 15 |" in table  # not in the test list: named by its ID
    assert TEST_A not in table  # 60 still, compared with build 3's 60, not with the 80 of build 1
    assert fourth["history"] == [(TEST_B, 45.0), (TEST_A, 80.0), (TEST_A, 60.0), (TEST_B, 30.0)]

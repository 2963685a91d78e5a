"""The dbt project as Dagster sees it, without running dbt: keys, lineage, checks, automation."""

import json

import dagster as dg
import pytest

from dagster_usertesting.lib.schema import ALL_TABLES
from ut_dagster.defs.research_marts.kept_history import TEST_HISTORY_TABLES
from ut_dagster.defs.research_marts.project import dbt_project_dir
from ut_dagster.defs.research_marts.sources import SOURCES_YML, render_sources_yml

MART_TABLES = {
    "task_metrics",
    "task_option_shares",
    "task_rating_distribution",
    "session_summary",
    "test_summary",
    "qx_score_history",
}


@pytest.fixture(scope="module")
def dbt_defs(usertesting_dbt_assets: dg.AssetsDefinition) -> dg.AssetsDefinition:
    return usertesting_dbt_assets


def test_sources_yml_is_generated_from_tables_py() -> None:
    assert SOURCES_YML.read_text(encoding="utf-8") == render_sources_yml(), (
        "dbt_project/models/staging/_sources.yml is out of date: run `python -m ut_dagster.defs.research_marts.sources`"
    )


def test_models_are_keyed_by_schema_and_sources_link_to_the_sync_assets(
    dbt_defs: dg.AssetsDefinition,
) -> None:
    keys = {key.to_user_string() for key in dbt_defs.keys}
    assert {f"usertesting_marts/{name}" for name in MART_TABLES} <= keys
    assert "usertesting_staging/stg_tasks" in keys
    upstream = {dep.asset_key for spec in dbt_defs.specs for dep in spec.deps} - set(dbt_defs.keys)
    # No translator maps them: source name = schema = the sync assets' key prefix.
    assert upstream == {
        dg.AssetKey(["usertesting", name])
        for name in ALL_TABLES
        if name not in {"session_details", "transcript_chunks"}  # no model reads these yet
    }
    groups = {spec.key.path[0]: spec.group_name for spec in dbt_defs.specs}
    assert groups == {"usertesting_staging": "usertesting_staging", "usertesting_marts": "usertesting_marts"}


def test_forget_deletes_from_every_incremental_model() -> None:
    # An incremental model keeps its rows across builds: `forget --delete-data` must delete a
    # forgotten test's rows there itself (TEST_HISTORY_TABLES), or they would stay forever.
    manifest = json.loads((dbt_project_dir() / "target" / "manifest.json").read_text(encoding="utf-8"))
    incremental = {
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    assert incremental == set(TEST_HISTORY_TABLES)


def test_dbt_tests_are_asset_checks_blocking_only_when_severity_error(dbt_defs: dg.AssetsDefinition) -> None:
    checks = {spec.key: spec for spec in dbt_defs.check_specs}
    unique_summary = dg.AssetCheckKey(
        dg.AssetKey(["usertesting_marts", "test_summary"]), "test_summary_one_row_per_test"
    )
    nps_range = dg.AssetCheckKey(
        dg.AssetKey(["usertesting_staging", "stg_tasks"]), "stg_tasks_nps_score_within_0_10"
    )
    assert checks[unique_summary].blocking
    assert not checks[nps_range].blocking  # severity: warn
    assert len(checks) >= 30


def test_the_ui_shows_dbt_descriptions_without_raw_sql(dbt_defs: dg.AssetsDefinition) -> None:
    # (The component records its DbtProject in each spec's metadata, for dagster-dbt's own use at run
    # time; the code location's snapshot, what the UI reads, leaves it out: test_defs_snapshot.py.)
    for spec in dbt_defs.specs:
        assert spec.description and "Raw SQL" not in spec.description, spec.key
    # Every dbt test is named and described in the dbt project (no generated names).
    for check in dbt_defs.check_specs:
        assert check.description, check.key
        assert check.name.startswith(check.asset_key.path[-1]), check.key


def test_every_mart_column_is_documented_with_a_type(dbt_defs: dg.AssetsDefinition) -> None:
    for spec in dbt_defs.specs:
        if spec.key.path[0] != "usertesting_marts":
            continue
        columns = spec.metadata["dagster/column_schema"]
        assert columns.columns, spec.key
        for column in columns.columns:
            assert column.type and column.type != "?" and column.description, (spec.key, column.name)


def _stub_sync_assets(partitions: dg.DynamicPartitionsDefinition) -> list[dg.AssetsDefinition]:
    """Stand-ins for the per-test sync assets (same keys and partitioning), never executed."""

    def stub(name: str) -> dg.AssetsDefinition:
        @dg.asset(key=["usertesting", name], partitions_def=partitions)
        def _stub() -> None: ...

        return _stub

    return [stub(name) for name in ALL_TABLES]


def test_a_sync_triggers_the_downstream_models_even_without_videos(dbt_defs: dg.AssetsDefinition) -> None:
    partitions = dg.DynamicPartitionsDefinition(name="usertesting_tests")
    defs = dg.Definitions(assets=[*_stub_sync_assets(partitions), dbt_defs], resources={"dbt": object()})
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(partitions.name, ["test-a"])
        dbt_keys = dg.AssetSelection.assets(dbt_defs)
        # Nothing has changed upstream since the condition was applied: nothing runs.
        quiet = dg.evaluate_automation_conditions(defs, instance, asset_selection=dbt_keys)
        assert quiet.total_requested == 0

        # A sync of one test writes tasks; session_videos has never been materialized.
        instance.report_runless_asset_event(
            dg.AssetMaterialization(["usertesting", "tasks"], partition="test-a")
        )
        after_sync = dg.evaluate_automation_conditions(
            defs, instance, asset_selection=dbt_keys, cursor=quiet.cursor
        )
        requested = {key.to_user_string() for key in dbt_defs.keys if after_sync.get_num_requested(key)}
        assert requested == {
            "usertesting_staging/stg_tasks",
            "usertesting_staging/stg_task_selected_options",
            "usertesting_marts/task_metrics",
            "usertesting_marts/task_option_shares",
            "usertesting_marts/task_rating_distribution",
            "usertesting_marts/session_summary",
            "usertesting_marts/test_summary",
            "usertesting_marts/qx_score_history",  # records test_summary's QXscores
            "usertesting_marts/clip_evidence",  # each clip with the session's task answers
        }

        # Handled: the next tick requests nothing until the next sync.
        again = dg.evaluate_automation_conditions(
            defs, instance, asset_selection=dbt_keys, cursor=after_sync.cursor
        )
        assert again.total_requested == 0


def test_definitions_load_with_the_alert_checks_and_a_running_automation_sensor(tmp_path) -> None:
    from ut_dagster.definitions import build_definitions
    from ut_dagster.environment import Settings

    defs = build_definitions(Settings.from_env({"UT_DATA_DIR": str(tmp_path)}))
    marts = defs.resolve_assets_def(dg.AssetKey(["usertesting_marts", "test_summary"]))
    on_marts = {
        key.name for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key in marts.keys
    }
    alerts = {"task_skip_rate_alert", "nps_floor_alert", "qx_score_drop_alert"}
    assert on_marts == {spec.key.name for spec in marts.check_specs} | alerts
    sensor = defs.resolve_sensor_def("research_marts_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.asset_selection.resolve(defs.resolve_asset_graph()) == set(marts.keys)

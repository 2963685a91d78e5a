"""Mart column types as the UI shows them: the warehouse's names, not dbt's generic string type."""

import dagster as dg
import pytest

from ut_dagster.defs.research_marts.column_types import warehouse_type, with_warehouse_types


@pytest.mark.parametrize(
    ("data_type", "target", "shown"),
    [
        ("character varying(256)", "duckdb", "VARCHAR"),  # DuckDB reports no length; dbt says 256
        ("character varying(16777216)", "snowflake", "VARCHAR"),  # Snowflake's unsized VARCHAR
        ("character varying(40)", "snowflake", "VARCHAR(40)"),  # a real limit stays
        ("BIGINT", "duckdb", "BIGINT"),
        ("TIMESTAMP WITH TIME ZONE", "duckdb", "TIMESTAMP WITH TIME ZONE"),
        ("NUMBER(38,0)", "snowflake", "NUMBER(38,0)"),
    ],
)
def test_string_columns_read_as_the_warehouse_names_them(data_type: str, target: str, shown: str) -> None:
    assert warehouse_type(data_type, target) == shown


def test_recorded_column_schema_is_rewritten_and_the_rest_kept() -> None:
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("test_id", "character varying(256)", description="The test"),
            dg.TableColumn("sessions", "BIGINT"),
        ]
    )
    output = dg.Output(None, "marts", metadata={"dagster/column_schema": schema, "dagster/row_count": 3})
    check = dg.AssetCheckResult(passed=True, asset_key="marts")
    [rewritten, untouched] = with_warehouse_types([output, check], "duckdb")
    recorded = rewritten.metadata["dagster/column_schema"].schema
    assert [(c.name, c.type, c.description) for c in recorded.columns] == [
        ("test_id", "VARCHAR", "The test"),
        ("sessions", "BIGINT", None),
    ]
    assert rewritten.metadata["dagster/row_count"].value == 3 and rewritten.output_name == "marts"
    assert untouched is check

"""`dg scaffold defs dagster_usertesting.UserTestingSyncComponent <folder>`: a defs.yaml to start from.

The scaffold names no credential: USERTESTING_CLIENT_ID and USERTESTING_CLIENT_SECRET are read from
the environment, and a secret written into defs.yaml would be refused when it loads.
"""

from __future__ import annotations

from typing import Literal

from dagster import Scaffolder, ScaffoldRequest, scaffold_component
from pydantic import BaseModel, Field, field_validator


class UserTestingScaffoldParams(BaseModel):
    warehouse: Literal["duckdb", "snowflake"] = Field(
        default="duckdb", description="Where the tables go: duckdb (a local file) or snowflake (SNOWFLAKE_*)."
    )
    tests: list[str] = Field(
        default_factory=list, description="Test IDs to sync, registered as partitions: --tests ID,ID"
    )

    @field_validator("tests", mode="before")
    @classmethod
    def _ids_as_typed(cls, value: object) -> object:
        # `dg scaffold defs ... --tests ID,ID` passes the text as typed (in a list); --json-params a list.
        typed = [value] if isinstance(value, str) else value
        if not isinstance(typed, list):
            return value
        return [test_id.strip() for text in typed for test_id in str(text).split(",") if test_id.strip()]


class UserTestingSyncScaffolder(Scaffolder[UserTestingScaffoldParams]):
    @classmethod
    def get_scaffold_params(cls) -> type[UserTestingScaffoldParams]:
        return UserTestingScaffoldParams

    def scaffold(self, request: ScaffoldRequest[UserTestingScaffoldParams]) -> None:
        scaffold_component(request, scaffolded_attributes(request.params or UserTestingScaffoldParams()))


def scaffolded_attributes(params: UserTestingScaffoldParams) -> dict[str, object]:
    """The attributes of a scaffolded defs.yaml: the warehouse, its file for DuckDB, the tests."""
    where = {"duckdb_path": "data/warehouse.duckdb"} if params.warehouse == "duckdb" else {}
    return {"warehouse": params.warehouse, **where, "tests": list(params.tests)}

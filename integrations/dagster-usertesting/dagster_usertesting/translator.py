"""How each UserTesting table appears in Dagster: the AssetSpec of a table, which users may subclass.

The asset key is not the translator's to change: it is the table's warehouse address
(`usertesting.<table>`), which the IO managers, the dbt sources and the checks all rely on.
Description, kinds, metadata (column schema included), group, owners and tags are.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey, AssetSpec

from dagster_usertesting.lib.schema import SCHEMA, Table


@dataclass(frozen=True)
class UserTestingTableProps:
    """What the translator knows of one table: its schema (lib/schema.py), where it is stored, and the
    spec its asset is defined with (key, business description, column schema, group)."""

    table: Table
    warehouse: str  # "duckdb" or "snowflake"
    object_store_kind: str | None  # "file" or "s3" for a table whose rows point at stored files
    spec: AssetSpec

    @property
    def key(self) -> AssetKey:
        return AssetKey([SCHEMA, self.table.name])


class UserTestingTranslator:
    """Table -> AssetSpec. Subclass it and pass an instance to `UserTestingSyncComponent`, or
    override the component's `get_asset_spec`."""

    def get_asset_spec(self, props: UserTestingTableProps) -> AssetSpec:
        """The asset's own spec, with the kinds of where its rows (and files) are stored."""
        kinds = {props.warehouse, *filter(None, [props.object_store_kind])}
        return props.spec.merge_attributes(kinds=kinds)

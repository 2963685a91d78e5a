"""The warehouse IO manager: assets output a TableWrite (or a DataFrame), one test partition each.

Built on the public `ConfigurableIOManager`; the warehouse work is a WarehouseClient's, so the IO
manager, the CLI and maintenance code share one write path. Table = the asset key's last component
(a schema.py table), schema = `usertesting`, partition = the test id; a table with
`partitioned=False` (usertesting/tests) is written by an unpartitioned asset and replaced whole.
"""

from __future__ import annotations

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext

from dagster_usertesting.lib.warehouse.base import WarehouseClient, as_table_write, table_named


class WarehouseIOManager(ConfigurableIOManager):
    """Base of the DuckDB and Snowflake IO managers; subclasses say which warehouse."""

    def client(self) -> WarehouseClient:
        raise NotImplementedError

    def handle_output(self, context: OutputContext, obj: object) -> None:
        if obj is None:  # an asset that writes nothing through the IO manager
            return
        table = table_named(context.asset_key.path[-1])
        if context.has_asset_partitions:
            test_id: str | None = context.asset_partition_key
        elif not table.partitioned:
            test_id = None  # one table for the credential (usertesting/tests): replaced whole
        else:
            raise ValueError(
                f"{context.asset_key.to_user_string()} is not partitioned: the warehouse IO manager "
                "writes one test partition at a time"
            )
        result = self.client().write(test_id, as_table_write(table, obj))
        context.add_output_metadata(result.metadata())

    def load_input(self, context: InputContext) -> pd.DataFrame:
        table = table_named(context.asset_key.path[-1])
        test_ids = list(context.asset_partition_keys) if context.has_asset_partitions else None
        return self.client().read(table, test_ids)

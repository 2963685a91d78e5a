"""The `warehouse` resource on DuckDB: SQL queries on the warehouse file (the research alerts).

dagster-duckdb's resource, under a description a user reads on the Resources page (Dagster shows a
resource class's docstring, and the library's is a code example).
"""

from dagster_duckdb import DuckDBResource


class DuckDBQueryResource(DuckDBResource):
    """Reads the research marts from the local DuckDB warehouse file for the research alerts."""

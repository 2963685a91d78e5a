"""The `warehouse` resource on Snowflake: SQL queries on the warehouse (the research alerts).

dagster-snowflake's resource, under a description a user reads on the Resources page (Dagster shows
a resource class's docstring, and the library's is a code example). Imported only when Snowflake
is configured: `import dagster_snowflake` costs seconds.
"""

from dagster_snowflake import SnowflakeResource


class SnowflakeQueryResource(SnowflakeResource):
    """Reads the research marts from the Snowflake warehouse for the research alerts."""

"""dbt models downstream of the raw tables, and the research alerts on them."""

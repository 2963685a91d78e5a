"""Dagster definitions, grouped by source: `usertesting` (the API sync) and `research_marts` (dbt)."""

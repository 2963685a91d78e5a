"""The dbt source declaration of the raw `usertesting` tables, written from schema.py.

schema.py is the one list of raw tables and columns; the dbt sources file is generated from it so
the two cannot drift (a test compares the checked-in file with `render_sources_yml()`). The source
is named after the schema, so dagster-dbt keys each source table `usertesting/<table>`: the very
asset keys of the sync assets, with no custom translator.

Regenerate after changing schema.py:  python -m ut_dagster.defs.research_marts.sources
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dagster_usertesting.lib.schema import ALL_TABLES, SCHEMA

SOURCES_YML = Path(__file__).resolve().parents[3] / "dbt_project" / "models" / "staging" / "_sources.yml"

_HEADER = (
    "# Generated from integrations/dagster-usertesting/dagster_usertesting/lib/schema.py by `python -m ut_dagster.defs.research_marts.sources`: edit it, not this"
    " file.\n"
)


def render_sources_yml() -> str:
    """The YAML of the `usertesting` dbt source: every raw table and column, in schema.py order."""
    source = {
        "name": SCHEMA,
        "schema": SCHEMA,
        "description": "Raw UserTesting results written by the ut-dagster sync, one Dagster asset per table.",
        "tables": [
            {
                "name": table.name,
                "description": table.description,
                "columns": [
                    {"name": c.name, "data_type": c.type.dbt, "description": c.description}
                    for c in table.columns
                ],
            }
            for table in ALL_TABLES.values()
        ],
    }
    body = yaml.safe_dump(
        {"version": 2, "sources": [source]}, sort_keys=False, width=1000, allow_unicode=True
    )
    return _HEADER + body


def main() -> None:
    SOURCES_YML.write_text(render_sources_yml(), encoding="utf-8")
    print(f"wrote {SOURCES_YML}")


if __name__ == "__main__":
    main()

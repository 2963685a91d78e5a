"""The marts' tables that keep rows across dbt builds, so `ut-dagster forget --delete-data` deletes
a forgotten test's rows from them itself.

Its own module, free of dagster-dbt, so the CLI imports it at no cost.
"""

from __future__ import annotations

# (schema, table) pairs keyed by test_id. qx_score_history is an incremental model (append-only,
# full_refresh=false): unlike the other marts it is never rebuilt from the usertesting tables, so
# the rows of a test deleted from those would stay in it forever. Every incremental model of the
# marts belongs here (test_dbt_definitions.py checks it against dbt's manifest).
TEST_HISTORY_TABLES: tuple[tuple[str, str], ...] = (("usertesting_marts", "qx_score_history"),)

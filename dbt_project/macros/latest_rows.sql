{#
  De-duplication for staging: keep one row per natural key, the one extracted last.

  A sync may load the same session more than once (re-syncs, pages that shift while new sessions
  arrive). For the rows flattened out of one session result (tasks, task groups, demographics),
  pass extraction_key too: only rows of the session's latest extraction are kept, so a task that
  disappeared from a newer result does not linger from an older one.
  NULLS LAST is explicit because Snowflake sorts NULLs first in descending order and DuckDB last.
#}
{% macro latest_rows(key_columns, extraction_key=none, order_by='extracted_at') -%}
qualify row_number() over (
        partition by {{ key_columns | join(', ') }} order by {{ order_by }} desc nulls last
    ) = 1
    {%- if extraction_key %}
    and dense_rank() over (
        partition by {{ extraction_key | join(', ') }} order by {{ order_by }} desc nulls last
    ) = 1
    {%- endif %}
{%- endmacro %}

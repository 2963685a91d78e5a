{#
  Use a model's custom schema verbatim instead of dbt's default `<target schema>_<custom schema>`.
  The warehouse schema then equals the Dagster asset key prefix (dagster-dbt prefixes a model's
  key with its configured schema): `usertesting_marts.task_metrics` is the asset
  `usertesting_marts/task_metrics`, next to the raw `usertesting/<table>` assets the sync writes.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{#
  source() for a raw table the sync may not have created yet, e.g. usertesting.session_videos
  until videos are first archived (a separate, optional job). A missing table reads as an empty
  result with the declared columns, so the models downstream still build; the source() call keeps
  the lineage, and the model is rebuilt with the real table after that table's asset first
  materializes (see ut_dagster/dbt_assets.py on automation).
  Use as:  from {{ source_or_empty('usertesting', 'session_videos') }} as src
#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
                       | selectattr('name', 'equalto', table_name) | first -%}
        {{ log("source " ~ relation ~ " does not exist yet: reading it as empty", info=true) }}
        (
            select
            {%- for column in node.columns.values() %}
                cast(null as {{ column.data_type }}) as {{ column.name }}{{ ',' if not loop.last }}
            {%- endfor %}
            where 1 = 0
        )
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#
  The one place where JSON handling differs between DuckDB and Snowflake.

  The sync stores JSON as TEXT (schema.py explains why), so models first call parse_json_text()
  and then read values with a dotted path of object keys, e.g. 'multipleChoice.selectedOptions':

    parse_json_text(text)                   JSON (DuckDB) / VARIANT (Snowflake); NULL when the text is
                                            NULL or not valid JSON, so one malformed answer cannot fail
                                            a whole build
    json_get(json, path)                    the JSON value at path (JSON / VARIANT), NULL when missing
    json_get_string(json, path)             the value at path as text (arrays and objects as JSON text),
                                            NULL when the path is missing or holds JSON null
    json_get_number(json, path)             the value at path as a double (a number or a numeric string),
                                            NULL otherwise
    json_array_elements(json, path, alias)  a FROM-clause fragment, written right after the table it
                                            reads from: one row per element of the array at path, the
                                            element in <alias>.value. A single value where an array was
                                            expected counts as a one-element array (tolerate both shapes).

  An empty path means the value itself: json_get_string(e.value, '') is an element as text.
#}

{% macro parse_json_text(text) -%}
    {{ return(adapter.dispatch('parse_json_text', 'ut_dagster')(text)) }}
{%- endmacro %}

{% macro duckdb__parse_json_text(text) -%}
    try_cast({{ text }} as json)
{%- endmacro %}

{% macro snowflake__parse_json_text(text) -%}
    try_parse_json({{ text }})
{%- endmacro %}


{% macro json_get(json, path) -%}
    {{ return(adapter.dispatch('json_get', 'ut_dagster')(json, path)) }}
{%- endmacro %}

{% macro duckdb__json_get(json, path) -%}
    json_extract({{ json }}, '{{ _duckdb_json_path(path) }}')
{%- endmacro %}

{% macro snowflake__json_get(json, path) -%}
    {{ _snowflake_json_get(json, path) }}
{%- endmacro %}


{% macro json_get_string(json, path) -%}
    {{ return(adapter.dispatch('json_get_string', 'ut_dagster')(json, path)) }}
{%- endmacro %}

{% macro duckdb__json_get_string(json, path) -%}
    json_extract_string({{ json }}, '{{ _duckdb_json_path(path) }}')
{%- endmacro %}

{% macro snowflake__json_get_string(json, path) -%}
    {{ _snowflake_json_get(json, path) }}::varchar
{%- endmacro %}


{% macro json_get_number(json, path) -%}
    {{ return(adapter.dispatch('json_get_number', 'ut_dagster')(json, path)) }}
{%- endmacro %}

{% macro duckdb__json_get_number(json, path) -%}
    try_cast(json_extract_string({{ json }}, '{{ _duckdb_json_path(path) }}') as double)
{%- endmacro %}

{% macro snowflake__json_get_number(json, path) -%}
    try_to_double({{ _snowflake_json_get(json, path) }}::varchar)
{%- endmacro %}


{% macro json_array_elements(json, path, alias) -%}
    {{ return(adapter.dispatch('json_array_elements', 'ut_dagster')(json, path, alias)) }}
{%- endmacro %}

{% macro duckdb__json_array_elements(json, path, alias) -%}
    {%- set at_path = duckdb__json_get(json, path) -%}
    , json_each(
        case
            when json_type({{ at_path }}) = 'ARRAY' then {{ at_path }}
            when {{ at_path }} is not null then json_array({{ at_path }})
        end
    ) as {{ alias }}
{%- endmacro %}

{% macro snowflake__json_array_elements(json, path, alias) -%}
    {%- set at_path = _snowflake_json_get(json, path) -%}
    -- FLATTEN rejects a scalar input, hence the explicit wrapping of a single value.
    , lateral flatten(
        input => case
            when is_array({{ at_path }}) then {{ at_path }}
            when {{ at_path }} is not null then array_construct({{ at_path }})
        end
    ) as {{ alias }}
{%- endmacro %}


{# Helpers: a dotted key path in each dialect's notation. #}
{% macro _duckdb_json_path(path) -%}
    {{ '$' if not path else '$.' ~ path }}
{%- endmacro %}

{% macro _snowflake_json_get(json, path) -%}
    {{ json if not path else "get_path(" ~ json ~ ", '" ~ path ~ "')" }}
{%- endmacro %}


{#
  json_object_agg(key, value): aggregate text pairs into one JSON object ({"GENDER": "Female", ...}).
  Keys must be unique within the group (Snowflake's OBJECT_AGG rejects duplicates).
#}
{% macro json_object_agg(key, value) -%}
    {{ return(adapter.dispatch('json_object_agg', 'ut_dagster')(key, value)) }}
{%- endmacro %}

{% macro duckdb__json_object_agg(key, value) -%}
    json_group_object({{ key }}, {{ value }})
{%- endmacro %}

{% macro snowflake__json_object_agg(key, value) -%}
    object_agg({{ key }}, to_variant({{ value }}))
{%- endmacro %}

-- Every QXscore a test has had: a row when a build of the marts sees a test's score change (or its
-- first score), none while it stays the same or is missing. test_summary holds only the latest
-- score, so this table is the only record of earlier ones: it is appended to, never rebuilt
-- (full_refresh=false keeps `dbt build --full-refresh` from dropping it); only
-- `ut-dagster forget --delete-data` deletes from it, a forgotten test's rows.
-- The new rows pass through a transient table on Snowflake instead of dbt's default temporary
-- view: the same single INSERT, and the one form the fakesnow test server can run too (older
-- dbt-snowflake versions ignore the setting and use the view).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
    tmp_relation_type='transient',
) }}

with observed as (
    -- Stamped with the build of test_summary that computed the score, even if this model is built
    -- by a later dbt invocation.
    select test_id, qx_score, built_at as observed_at
    from {{ ref('test_summary') }}
    where qx_score is not null
)

{%- if is_incremental() %},

latest as (
    select test_id, qx_score
    from {{ this }}
    {{ latest_rows(['test_id'], order_by='observed_at') }}
)

select o.test_id, o.qx_score, o.observed_at
from observed as o
left join latest as l on o.test_id = l.test_id
where l.test_id is null or l.qx_score <> o.qx_score
{%- else %}

select test_id, qx_score, observed_at
from observed
{%- endif %}

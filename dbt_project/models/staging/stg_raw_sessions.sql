-- Completed sessions as the session listing reports them: one row per session.
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(status as varchar) as status,
    cast(start_time as timestamp) as start_time,
    cast(finish_time as timestamp) as finish_time,
    cast(audience_id as varchar) as audience_id,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'raw_sessions') }} as src
where session_id is not null
{{ latest_rows(['test_id', 'session_id']) }}

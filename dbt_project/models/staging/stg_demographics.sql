-- Participants' screener answers from the latest result of each session, one row per question.
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(participant_id as varchar) as participant_id,
    cast(demographic_id as varchar) as demographic_id,
    -- Codes are matched case-insensitively in session_summary's pivot: store them upper-cased.
    upper(trim(cast(demographic_code as varchar))) as demographic_code,
    cast(label as varchar) as label,
    cast(value as varchar) as value,
    cast(values_json as varchar) as values_json,
    cast(type as varchar) as demographic_type,
    cast(position as bigint) as position,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'demographics') }} as src
where session_id is not null
{{ latest_rows(['test_id', 'session_id', 'position'], extraction_key=['test_id', 'session_id']) }}

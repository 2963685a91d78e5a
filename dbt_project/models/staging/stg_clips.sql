-- Clips researchers made of session videos, one row per clip (the session's latest answer).
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(participant_id as varchar) as participant_id,
    cast(clip_id as varchar) as clip_id,
    cast(clip_name as varchar) as clip_name,
    cast(description as varchar) as description,
    cast(time_start_ms as bigint) as time_start_ms,
    cast(time_end_ms as bigint) as time_end_ms,
    cast(duration_ms as bigint) as duration_ms,
    cast(has_audio as boolean) as has_audio,
    cast(has_camera as boolean) as has_camera,
    cast(removal_pending as boolean) as removal_pending,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'clips') }} as src
where clip_id is not null
{{ latest_rows(['test_id', 'session_id', 'clip_id'], extraction_key=['test_id', 'session_id']) }}

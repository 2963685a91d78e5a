-- Every task of every session (latest result of each session), with time on task in seconds.
with tasks as (
    select
        cast(test_id as varchar) as test_id,
        cast(session_id as varchar) as session_id,
        cast(participant_id as varchar) as participant_id,
        cast(task_uuid as varchar) as task_uuid,
        cast(task_text as varchar) as task_text,
        cast(task_type as varchar) as task_type,
        cast(position as bigint) as position,
        cast(start_time_ms as bigint) as start_time_ms,
        cast(end_time_ms as bigint) as end_time_ms,
        cast(duration_ms as bigint) as duration_ms,
        cast(skipped as boolean) as skipped,
        cast(answer_json as varchar) as answer_json,
        cast(nps_score as bigint) as nps_score,
        cast(rating_value as double) as rating_value,
        cast(answer_text as varchar) as answer_text,
        cast(extracted_at as timestamp) as extracted_at
    from {{ source_or_empty('usertesting', 'tasks') }} as src
    where session_id is not null
    {{ latest_rows(['test_id', 'session_id', 'position'], extraction_key=['test_id', 'session_id']) }}
)

select
    *,
    -- Time on task: the normalizer's duration, else end minus start; a negative span is a clock
    -- glitch, not a time, and would drag medians down.
    case
        when coalesce(duration_ms, end_time_ms - start_time_ms) >= 0
            then cast(coalesce(duration_ms, end_time_ms - start_time_ms) as double) / 1000
    end as time_on_task_seconds
from tasks

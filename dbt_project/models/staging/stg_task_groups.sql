-- Task groups (QXscore questionnaires, balanced comparisons) from the latest result of each session.
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(participant_id as varchar) as participant_id,
    cast(task_group_uuid as varchar) as task_group_uuid,
    cast(task_group_type as varchar) as task_group_type,
    cast(task_group_response as varchar) as task_group_response,
    cast(qx_score as double) as qx_score,
    cast(comparison_sequence as varchar) as comparison_sequence,
    cast(position as bigint) as position,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'task_groups') }} as src
where session_id is not null
{{ latest_rows(['test_id', 'session_id', 'position'], extraction_key=['test_id', 'session_id']) }}

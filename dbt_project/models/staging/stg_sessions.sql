-- Session results (v3 details): who took the session, from which audience and test plan.
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(participant_id as varchar) as participant_id,
    cast(audience_id as varchar) as audience_id,
    cast(test_plan_id as varchar) as test_plan_id,
    cast(task_count as bigint) as task_count,
    cast(task_group_count as bigint) as task_group_count,
    cast(demographic_count as bigint) as demographic_count,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'sessions') }} as src
where session_id is not null
{{ latest_rows(['test_id', 'session_id']) }}

-- The test-level QXscore per QX task group as the API computes it, latest extraction per group.
select
    cast(test_id as varchar) as test_id,
    cast(task_group_id as varchar) as task_group_id,
    cast(label as varchar) as label,
    cast(qx_score as double) as qx_score,
    cast(behavioral as double) as behavioral,
    cast(attitudinal as double) as attitudinal,
    cast(usability as double) as usability,
    cast(trust as double) as trust,
    cast(appearance as double) as appearance,
    cast(loyalty as double) as loyalty,
    cast(completes as bigint) as completes,
    cast(total_qx_tasks as bigint) as total_qx_tasks,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'qx_scores') }} as src
where test_id is not null
{{ latest_rows(['test_id', 'task_group_id']) }}

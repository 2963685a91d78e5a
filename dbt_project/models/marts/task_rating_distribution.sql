-- How rating-scale answers spread over the scale: one row per task and rating value given.
with ratings as (
    select test_id, task_uuid, rating_value
    from {{ ref('stg_tasks') }}
    where task_uuid is not null
      and rating_value is not null
)

select
    test_id,
    task_uuid,
    rating_value,
    count(*) as responses,
    cast(count(*) as double)
        / sum(count(*)) over (partition by test_id, task_uuid) as share
from ratings
group by test_id, task_uuid, rating_value

-- Which options participants chose in multiple-choice tasks: one row per task and option. The
-- share is the fraction of the participants who chose at least one option of the task that chose
-- this one, so the shares of a multi-select task can add up to more than 1.
with selections as (
    select test_id, session_id, task_uuid, option_label
    from {{ ref('stg_task_selected_options') }}
    where task_uuid is not null
),

responding as (
    select test_id, task_uuid, count(distinct session_id) as responding_sessions
    from selections
    group by test_id, task_uuid
)

select
    s.test_id,
    s.task_uuid,
    s.option_label,
    count(distinct s.session_id) as selections,
    r.responding_sessions,
    cast(count(distinct s.session_id) as double) / r.responding_sessions as share
from selections as s
inner join responding as r
    on s.test_id = r.test_id
    and s.task_uuid = r.task_uuid
group by s.test_id, s.task_uuid, s.option_label, r.responding_sessions

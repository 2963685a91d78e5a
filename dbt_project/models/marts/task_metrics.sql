-- One row per task of a test: how many participants did it, skipped it, how long it took, and
-- what they answered. Rates are fractions (0-1); NPS is promoters minus detractors in percent.
with tasks as (
    select
        *,
        -- Only the 0-10 answers count; stg_tasks' accepted_range test reports any others.
        case when nps_score between 0 and 10 then nps_score end as valid_nps_score,
        -- Time on task of the participants who did the task (a skip has no meaningful duration).
        case when skipped = false then time_on_task_seconds end as done_time_on_task_seconds
    from {{ ref('stg_tasks') }}
    -- A task without an ID cannot be followed across sessions.
    where task_uuid is not null
)

select
    test_id,
    task_uuid,
    min(position) as task_position,
    max(task_type) as task_type,
    max(task_text) as task_text,
    count(distinct session_id) as sessions,
    count(distinct case when skipped = false then session_id end) as completed_sessions,
    count(distinct case when skipped = true then session_id end) as skipped_sessions,
    cast(count(distinct case when skipped = false then session_id end) as double)
        / nullif(count(distinct session_id), 0) as completion_rate,
    cast(count(distinct case when skipped = true then session_id end) as double)
        / nullif(count(distinct session_id), 0) as skip_rate,

    percentile_cont(0.5) within group (order by done_time_on_task_seconds) as median_time_on_task_seconds,
    percentile_cont(0.9) within group (order by done_time_on_task_seconds) as p90_time_on_task_seconds,

    count(rating_value) as rating_responses,
    avg(rating_value) as rating_mean,
    min(rating_value) as rating_min,
    max(rating_value) as rating_max,

    count(valid_nps_score) as nps_responses,
    count(case when valid_nps_score >= 9 then 1 end) as nps_promoters,
    count(case when valid_nps_score between 7 and 8 then 1 end) as nps_passives,
    count(case when valid_nps_score <= 6 then 1 end) as nps_detractors,
    100 * cast(
        count(case when valid_nps_score >= 9 then 1 end)
        - count(case when valid_nps_score <= 6 then 1 end)
        as double
    ) / nullif(count(valid_nps_score), 0) as nps
from tasks
group by test_id, task_uuid

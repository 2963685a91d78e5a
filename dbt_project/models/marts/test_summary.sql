-- One row per test (study): its title (null until the test list names it), sessions, NPS over all
-- NPS answers, QXscore, task skip rate and how many sessions have a transcript or a video. Rates
-- and coverages are fractions (0-1). built_at stamps the scores qx_score_history records from this
-- table, so the QXscore-drop alert can tell them from earlier ones.
with sessions as (
    select
        test_id,
        count(*) as sessions,
        count(distinct participant_id) as participants,
        min(start_time) as first_session_started_at,
        max(finish_time) as last_session_finished_at,
        percentile_cont(0.5) within group (order by session_duration_seconds)
            as median_session_duration_seconds,
        count(case when has_transcript then 1 end) as sessions_with_transcript,
        count(case when has_video then 1 end) as sessions_with_video,
        avg(qx_score) as session_mean_qx_score,
        count(qx_score) as sessions_with_qx_score,
        max(extracted_at) as last_extracted_at
    from {{ ref('session_summary') }}
    group by test_id
),

tasks as (
    select
        test_id,
        count(distinct task_uuid) as tasks,
        cast(count(case when skipped = true then 1 end) as double)
            / nullif(count(case when skipped is not null then 1 end), 0) as task_skip_rate,
        count(case when nps_score between 0 and 10 then nps_score end) as nps_responses,
        100 * cast(
            count(case when nps_score between 9 and 10 then 1 end)
            - count(case when nps_score between 0 and 6 then 1 end)
            as double
        ) / nullif(count(case when nps_score between 0 and 10 then nps_score end), 0) as nps
    from {{ ref('stg_tasks') }}
    group by test_id
),

api_qx as (
    -- The API's own QXscore; a test with several QX task groups gets their mean.
    select test_id, avg(qx_score) as api_qx_score
    from {{ ref('stg_qx_scores') }}
    group by test_id
),

test_keys as (
    select test_id from sessions
    union
    select test_id from api_qx
)

select
    k.test_id,
    ut.title,
    coalesce(s.sessions, 0) as sessions,
    coalesce(s.participants, 0) as participants,
    s.first_session_started_at,
    s.last_session_finished_at,
    s.median_session_duration_seconds,
    coalesce(t.tasks, 0) as tasks,
    t.task_skip_rate,
    coalesce(t.nps_responses, 0) as nps_responses,
    t.nps,
    -- Prefer the API's QXscore (its official benchmark); fall back to the mean of the
    -- participants' QXscores from the session results.
    coalesce(q.api_qx_score, s.session_mean_qx_score) as qx_score,
    case
        when q.api_qx_score is not null then 'api'
        when s.session_mean_qx_score is not null then 'sessions'
    end as qx_score_source,
    q.api_qx_score,
    s.session_mean_qx_score,
    coalesce(s.sessions_with_qx_score, 0) as sessions_with_qx_score,
    coalesce(s.sessions_with_transcript, 0) as sessions_with_transcript,
    cast(s.sessions_with_transcript as double) / nullif(s.sessions, 0) as transcript_coverage,
    coalesce(s.sessions_with_video, 0) as sessions_with_video,
    cast(s.sessions_with_video as double) / nullif(s.sessions, 0) as video_coverage,
    s.last_extracted_at,
    -- When dbt started this build, in UTC: current_timestamp's type and time zone differ by warehouse.
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as built_at
from test_keys as k
left join sessions as s on k.test_id = s.test_id
left join tasks as t on k.test_id = t.test_id
left join api_qx as q on k.test_id = q.test_id
left join {{ ref('stg_tests') }} as ut on lower(k.test_id) = lower(ut.test_id)

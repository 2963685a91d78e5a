-- One row per session: when and how long, how many tasks were done or skipped, the participant's
-- QXscore and NPS answer, whether a transcript and a video exist, and the participant's
-- demographics (common codes as columns, all of them in demographics_json).
{%- set pivoted_codes = var('pivoted_demographic_codes') %}

with session_keys as (
    -- A session can be listed before its details are fetched, or the other way round.
    select test_id, session_id from {{ ref('stg_raw_sessions') }}
    union
    select test_id, session_id from {{ ref('stg_sessions') }}
),

task_counts as (
    select
        test_id,
        session_id,
        count(*) as tasks_total,
        count(case when skipped = false then 1 end) as tasks_completed,
        count(case when skipped = true then 1 end) as tasks_skipped,
        sum(case when skipped = false then time_on_task_seconds end) as time_on_tasks_seconds,
        avg(case when nps_score between 0 and 10 then nps_score end) as nps_score
    from {{ ref('stg_tasks') }}
    group by test_id, session_id
),

task_groups as (
    select
        test_id,
        session_id,
        avg(case when task_group_type = 'QX_SCORE' then qx_score end) as qx_score,
        max(case when task_group_type = 'BALANCED_COMPARISON' then comparison_sequence end)
            as comparison_sequence
    from {{ ref('stg_task_groups') }}
    group by test_id, session_id
),

demographics as (
    -- One answer per code (the first asked) so the JSON object has unique keys.
    select test_id, session_id, demographic_code, value
    from {{ ref('stg_demographics') }}
    where demographic_code is not null and demographic_code <> ''
    qualify row_number() over (
        partition by test_id, session_id, demographic_code order by position
    ) = 1
),

demographics_wide as (
    select
        test_id,
        session_id,
        {%- for code in pivoted_codes %}
        max(case when demographic_code = '{{ code | upper }}' then value end)
            as demographic_{{ code | lower }},
        {%- endfor %}
        {{ json_object_agg('demographic_code', 'value') }} as demographics_json
    from demographics
    group by test_id, session_id
)

select
    k.test_id,
    k.session_id,
    s.participant_id,
    coalesce(s.audience_id, r.audience_id) as audience_id,
    s.test_plan_id,
    r.status,
    r.start_time,
    r.finish_time,
    {{ dbt.datediff('r.start_time', 'r.finish_time', 'second') }} as session_duration_seconds,
    coalesce(t.tasks_total, 0) as tasks_total,
    coalesce(t.tasks_completed, 0) as tasks_completed,
    coalesce(t.tasks_skipped, 0) as tasks_skipped,
    t.time_on_tasks_seconds,
    t.nps_score,
    g.qx_score,
    g.comparison_sequence,
    tr.session_id is not null as has_transcript,
    tr.cue_count as transcript_cue_count,
    v.session_id is not null as has_video,
    {%- for code in pivoted_codes %}
    d.demographic_{{ code | lower }},
    {%- endfor %}
    d.demographics_json,
    greatest(
        coalesce(r.extracted_at, s.extracted_at), coalesce(s.extracted_at, r.extracted_at)
    ) as extracted_at
from session_keys as k
left join {{ ref('stg_raw_sessions') }} as r
    on k.test_id = r.test_id and k.session_id = r.session_id
left join {{ ref('stg_sessions') }} as s
    on k.test_id = s.test_id and k.session_id = s.session_id
left join task_counts as t
    on k.test_id = t.test_id and k.session_id = t.session_id
left join task_groups as g
    on k.test_id = g.test_id and k.session_id = g.session_id
left join {{ ref('stg_transcripts') }} as tr
    on k.test_id = tr.test_id and k.session_id = tr.session_id
left join {{ ref('stg_session_videos') }} as v
    on k.test_id = v.test_id and k.session_id = v.session_id
left join demographics_wide as d
    on k.test_id = d.test_id and k.session_id = d.session_id

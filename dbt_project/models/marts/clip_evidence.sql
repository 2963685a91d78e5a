-- One row per clip: the moment a researcher flagged (name, description, time), what the participant
-- said in it, the task on screen when it starts, and every task answer of the session, so "what did
-- participants say where researchers flagged a problem" is one query per test.
with task_answers as (
    select
        test_id,
        session_id,
        {{ json_object_agg("cast(position as varchar) || '. ' || coalesce(task_text, '')", 'answer_text') }}
            as task_answers_json
    from {{ ref('stg_tasks') }}
    group by test_id, session_id
),

task_at_start as (
    -- The task whose time span holds the clip's start (the first by position if several do).
    select
        c.test_id,
        c.session_id,
        c.clip_id,
        t.task_text,
        t.task_type,
        t.answer_text
    from {{ ref('stg_clips') }} as c
    inner join {{ ref('stg_tasks') }} as t
        on t.test_id = c.test_id
        and t.session_id = c.session_id
        and c.time_start_ms >= t.start_time_ms
        and c.time_start_ms < t.end_time_ms
    qualify row_number() over (partition by c.test_id, c.session_id, c.clip_id order by t.position) = 1
)

select
    c.test_id,
    tests.title as test_title,
    c.session_id,
    c.participant_id,
    c.clip_id,
    c.clip_name,
    c.description as clip_description,
    c.time_start_ms,
    c.time_end_ms,
    c.duration_ms,
    c.removal_pending,
    ct.transcript_text,
    ct.cue_count,
    tas.task_text as task_at_clip_start,
    tas.task_type as task_type_at_clip_start,
    tas.answer_text as answer_at_clip_start,
    ta.task_answers_json
from {{ ref('stg_clips') }} as c
left join {{ ref('stg_clip_transcripts') }} as ct
    on ct.test_id = c.test_id and ct.session_id = c.session_id and ct.clip_id = c.clip_id
left join task_at_start as tas
    on tas.test_id = c.test_id and tas.session_id = c.session_id and tas.clip_id = c.clip_id
left join task_answers as ta
    on ta.test_id = c.test_id and ta.session_id = c.session_id
left join {{ ref('stg_tests') }} as tests
    on tests.test_id = c.test_id

-- What the participant said during each clip (transcript cues overlapping it), one row per clip.
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(clip_id as varchar) as clip_id,
    cast(cue_count as bigint) as cue_count,
    cast(transcript_text as varchar) as transcript_text,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'clip_transcripts') }} as src
where clip_id is not null
{{ latest_rows(['test_id', 'session_id', 'clip_id'], extraction_key=['test_id', 'session_id']) }}

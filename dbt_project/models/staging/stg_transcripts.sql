-- Session transcripts (think-out-loud and live conversation), latest extraction per session.
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(transcript_vtt as varchar) as transcript_vtt,
    cast(transcript_plain_text as varchar) as transcript_plain_text,
    cast(cue_count as bigint) as cue_count,
    cast(duration_ms as bigint) as duration_ms,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'transcripts') }} as src
where session_id is not null
{{ latest_rows(['test_id', 'session_id']) }}

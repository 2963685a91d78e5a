-- Highlight reels researchers assembled from a test's clips, one row per reel (latest answer).
select
    cast(test_id as varchar) as test_id,
    cast(reel_id as varchar) as reel_id,
    cast(reel_name as varchar) as reel_name,
    cast(duration_ms as bigint) as duration_ms,
    cast(num_clips as bigint) as num_clips,
    cast(are_all_clips_in_reel as boolean) as are_all_clips_in_reel,
    cast(last_updated_at as timestamp) as last_updated_at,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'highlight_reels') }} as src
where reel_id is not null
{{ latest_rows(['test_id', 'reel_id'], extraction_key=['test_id']) }}

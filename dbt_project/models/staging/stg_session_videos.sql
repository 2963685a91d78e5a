-- Archived session recordings, the latest archive per session.
select
    cast(test_id as varchar) as test_id,
    cast(session_id as varchar) as session_id,
    cast(video_storage_path as varchar) as video_storage_path,
    cast(size_bytes as bigint) as size_bytes,
    cast(content_type as varchar) as content_type,
    cast(downloaded_at as timestamp) as downloaded_at
from {{ source_or_empty('usertesting', 'session_videos') }} as src
where session_id is not null
{{ latest_rows(['test_id', 'session_id'], order_by='downloaded_at') }}

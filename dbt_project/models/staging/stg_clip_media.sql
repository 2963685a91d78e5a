-- Archived clip and highlight-reel videos, one row per clip or reel.
select
    cast(test_id as varchar) as test_id,
    cast(media_kind as varchar) as media_kind,
    cast(session_id as varchar) as session_id,
    cast(media_id as varchar) as media_id,
    cast(media_storage_path as varchar) as media_storage_path,
    cast(size_bytes as bigint) as size_bytes,
    cast(content_type as varchar) as content_type,
    cast(downloaded_at as timestamp) as downloaded_at
from {{ source_or_empty('usertesting', 'clip_media') }} as src
where media_id is not null
{{ latest_rows(['test_id', 'media_kind', 'media_id'], order_by='downloaded_at') }}

-- Every test the credential can see (usertesting.tests, from the legacy v1 workspaces API, replaced
-- whole by each daily refresh): title, kind, workspace. One row per test, compared case-insensitively.
select
    cast(test_id as varchar) as test_id,
    cast(title as varchar) as title,
    cast(product_type as varchar) as product_type,
    cast(study_type as varchar) as study_type,
    cast(workspace_id as varchar) as workspace_id,
    cast(workspace_name as varchar) as workspace_name,
    cast(ordered_at as timestamp) as ordered_at,
    cast(syncable as boolean) as syncable,
    cast(extracted_at as timestamp) as extracted_at
from {{ source_or_empty('usertesting', 'tests') }} as src
where test_id is not null
{{ latest_rows(['lower(test_id)']) }}

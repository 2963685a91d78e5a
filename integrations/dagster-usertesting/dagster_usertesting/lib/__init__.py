"""Plain libraries with no Dagster definitions: API client, landing area, normalizers, warehouse, schema."""

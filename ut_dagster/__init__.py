"""ut-dagster: UserTesting research results, continuously synced into your warehouse with Dagster."""

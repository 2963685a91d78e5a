"""The sync engine: what a sync of one test asks for, lands, writes and removes.

Every decision that could destroy data or give up on a session is a pure function of observations
(`walk`, `deletions`, `retries`); the step modules (`listing_step`, `details_step`, ...) do the I/O
around them, and the Dagster assets only wrap those steps (key, partitions, resources, metadata).
"""

"""The UserTesting assets, prefix `usertesting` (= warehouse schema = dbt source); all but
`usertesting/tests` are partitioned per test.

Each is a step declared with `sync_step` (factory.py): `step.build(pool, execute)` is its asset,
`step.keys` its keys whatever the pool and execute.
"""

from dagster_usertesting.defs.assets.clip_media import clip_media
from dagster_usertesting.defs.assets.clips import clip_tables
from dagster_usertesting.defs.assets.factory import (
    API_POOL,
    ExecuteStep,
    StepAsset,
    SyncStep,
    keys_of,
    run_step,
)
from dagster_usertesting.defs.assets.qx_scores import qx_scores
from dagster_usertesting.defs.assets.raw_sessions import raw_sessions
from dagster_usertesting.defs.assets.session_tables import session_tables
from dagster_usertesting.defs.assets.session_videos import session_videos
from dagster_usertesting.defs.assets.transcript_tables import transcript_tables
from dagster_usertesting.defs.assets.workspace_tests import workspace_tests

SYNC_STEPS = (raw_sessions, session_tables, transcript_tables, qx_scores, clip_tables)
VIDEO_STEPS = (session_videos, clip_media)
# Not partitioned by test: refreshed by its own daily job, never by the sync job.
TESTS_STEPS = (workspace_tests,)

__all__ = [
    "API_POOL",
    "SYNC_STEPS",
    "TESTS_STEPS",
    "VIDEO_STEPS",
    "ExecuteStep",
    "StepAsset",
    "SyncStep",
    "clip_media",
    "clip_tables",
    "keys_of",
    "qx_scores",
    "raw_sessions",
    "run_step",
    "session_tables",
    "session_videos",
    "transcript_tables",
    "workspace_tests",
]

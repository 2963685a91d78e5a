"""The UserTesting assets, prefix `usertesting` (= warehouse schema = dbt source); all but
`usertesting/tests` are partitioned per test."""

from dagster_usertesting.defs.assets.clip_media import clip_media
from dagster_usertesting.defs.assets.clips import clip_tables
from dagster_usertesting.defs.assets.qx_scores import qx_scores
from dagster_usertesting.defs.assets.raw_sessions import raw_sessions
from dagster_usertesting.defs.assets.session_tables import session_tables
from dagster_usertesting.defs.assets.session_videos import session_videos
from dagster_usertesting.defs.assets.transcript_tables import transcript_tables
from dagster_usertesting.defs.assets.workspace_tests import workspace_tests

SYNC_ASSETS = [raw_sessions, session_tables, transcript_tables, qx_scores, clip_tables]
VIDEO_ASSETS = [session_videos, clip_media]
# Not partitioned by test: refreshed by its own daily job, never by the sync job.
TESTS_ASSETS = [workspace_tests]

__all__ = [
    "SYNC_ASSETS",
    "TESTS_ASSETS",
    "VIDEO_ASSETS",
    "clip_media",
    "clip_tables",
    "qx_scores",
    "raw_sessions",
    "session_tables",
    "session_videos",
    "transcript_tables",
    "workspace_tests",
]

"""Pre-signed links expire: an interrupted download whose link has expired restarts on a fresh link."""

import os
from collections import Counter

from dagster_usertesting.testing import THINK_OUT_LOUD, StudySpec

MIB = 1 << 20


def _temp_files(pipeline) -> list[str]:
    root = pipeline.settings.object_store
    return [name for _, _, files in os.walk(root) for name in files if name.startswith(".")]


def test_a_download_cut_off_after_its_link_expired_restarts_whole_on_a_fresh_link(
    make_video_pipeline, transfer_gate
):
    pipeline = make_video_pipeline(
        studies=(StudySpec(THINK_OUT_LOUD, 2),),
        video_size_bytes=2 * MIB + 17,
        video_drop_after_bytes=MIB,  # the video host drops each video's first download after 1 MiB
        video_link_lifetime_seconds=1.0,
    )
    # ... which takes 2 s, so the retry finds its link expired (403) and must ask for a fresh one.
    transfer_gate(pipeline.sandbox, seconds_per_mib=2.0)
    [test_id] = pipeline.sandbox.test_ids
    sessions = pipeline.with_video(test_id)
    assert len(sessions) == 2

    pipeline.archive()

    pipeline.assert_archived(test_id)
    assert Counter(pipeline.link_requests()) == dict.fromkeys(sessions, 2)
    for session_id in sessions:
        statuses = [status for s, status in pipeline.video_requests() if s == session_id]
        assert statuses == [200, 403, 200]  # cut off after 1 MiB, refused (expired), whole
    assert _temp_files(pipeline) == []
    assert pipeline.sandbox.server_errors == []


def test_a_video_whose_links_always_expire_is_not_recorded_and_is_retried_after_backing_off(
    make_video_pipeline,
):
    pipeline = make_video_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 1),), video_size_bytes=MIB)
    [test_id] = pipeline.sandbox.test_ids
    [session_id] = pipeline.with_video(test_id)
    pipeline.sandbox.config.video_link_lifetime_seconds = 0.0  # expired before any download starts

    pipeline.archive()

    # Four attempts (VideoConfig.max_attempts), each on its own fresh link; nothing recorded.
    assert pipeline.link_requests() == [session_id] * 4
    assert pipeline.video_requests() == [(session_id, 403)] * 4
    assert pipeline.video_keys(test_id) == [] and pipeline.table().empty
    assert _temp_files(pipeline) == []

    pipeline.sandbox.config.video_link_lifetime_seconds = 3600.0
    pipeline.sandbox.reset_requests()
    pipeline.archive()  # the failing video backs off (UT_SESSION_RETRY_MINUTES): not asked at once
    assert pipeline.link_requests() == []
    pipeline.archive(retry_failed=True)

    pipeline.assert_archived(test_id)
    assert pipeline.link_requests() == [session_id]
    assert pipeline.video_requests() == [(session_id, 200)]

"""`archived_videos_match_checksums` (job `usertesting_verify_videos`) names every video that changed."""

from dagster_usertesting.testing import THINK_OUT_LOUD, StudySpec

MIB = 1 << 20


def test_verify_job_fails_naming_a_corrupted_and_a_missing_video_and_passes_after_a_full_resync(
    make_video_pipeline,
):
    pipeline = make_video_pipeline(studies=(StudySpec(THINK_OUT_LOUD, 3),), video_size_bytes=MIB)
    [test_id] = pipeline.sandbox.test_ids
    pipeline.archive()
    corrupted, missing, intact = sorted(pipeline.with_video(test_id))

    evaluation = pipeline.verify()
    assert evaluation.passed
    assert evaluation.metadata["videos_checked"].value == 3
    assert evaluation.metadata["mismatched"].value == []

    # One byte flipped in the middle (same size: bit rot), one video deleted.
    path = f"videos/{test_id}/{corrupted}.mp4"
    data = bytearray(pipeline.store.get_bytes(path) or b"")
    data[len(data) // 2] ^= 0xFF
    pipeline.store.put_bytes(path, bytes(data))
    pipeline.store.delete(f"videos/{test_id}/{missing}.mp4")

    evaluation = pipeline.verify()
    assert not evaluation.passed
    assert evaluation.metadata["videos_checked"].value == 2
    assert sorted(evaluation.metadata["mismatched"].value) == [
        f"videos/{test_id}/{corrupted}.mp4",
        f"videos/{test_id}/{missing}.mp4 (missing)",
    ]
    assert intact not in str(evaluation.metadata["mismatched"].value)

    pipeline.sandbox.reset_requests()
    pipeline.archive(full=True)

    assert sorted(s for s, _ in pipeline.video_requests()) == sorted(pipeline.with_video(test_id))
    pipeline.assert_archived(test_id)
    evaluation = pipeline.verify()
    assert evaluation.passed and evaluation.metadata["videos_checked"].value == 3

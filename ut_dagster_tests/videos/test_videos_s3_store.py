"""Videos archived into S3 (a moto server on 127.0.0.1, s3://bucket/prefix as UT_OBJECT_STORE gives it)."""

from collections import Counter

from dagster_usertesting.lib.object_store.s3 import DEFAULT_PART_SIZE, S3ObjectStore
from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, StudySpec

MIB = 1 << 20
VIDEO_SIZE = 12 * MIB + 333  # more than one 8 MiB part: a multipart upload of two parts
# Each video's first download is cut off after its first part was uploaded: that upload is aborted.
DROP_AFTER = 10 * MIB


def test_videos_stream_into_s3_as_multipart_uploads_none_left_unfinished_and_none_downloaded_twice(
    make_video_pipeline, s3_object_store
):
    assert DEFAULT_PART_SIZE < DROP_AFTER < VIDEO_SIZE
    pipeline = make_video_pipeline(
        object_store=s3_object_store,
        studies=(StudySpec(THINK_OUT_LOUD, 2), StudySpec(SURVEY, 2)),
        video_size_bytes=VIDEO_SIZE,
        video_drop_after_bytes=DROP_AFTER,
    )
    talk, survey = pipeline.sandbox.test_ids
    store = pipeline.store
    assert isinstance(store, S3ObjectStore) and store.prefix == "archive"

    assert pipeline.sync() == 0

    pipeline.assert_archived(talk)
    pipeline.assert_archived(survey)
    assert pipeline.table(survey).empty
    assert pipeline.video_keys(survey) == sorted(
        f"videos/{survey}/{s}.none" for s in pipeline.sandbox.dataset.session_ids(survey)
    )
    client, bucket = store.client, store.bucket
    for session_id in pipeline.with_video(talk):
        key = f"archive/videos/{talk}/{session_id}.mp4"
        head = client.head_object(Bucket=bucket, Key=key)
        # S3 (and moto) give a multipart object an ETag ending in -<number of parts>.
        assert head["ETag"].strip('"').endswith("-2"), head["ETag"]
        assert head["ContentLength"] == VIDEO_SIZE and head["ContentType"] == "video/mp4"
        assert pipeline.record(talk, session_id)["video_storage_path"] == f"s3://{bucket}/{key}"
    # The interrupted uploads were aborted, not left behind (unfinished uploads are billed storage).
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    every_session = {s for t in (talk, survey) for s in pipeline.sandbox.dataset.session_ids(t)}
    # The link was still good after the cut: the download restarted on it, no new link was asked for.
    assert Counter(pipeline.link_requests()) == dict.fromkeys(every_session, 1)
    assert Counter(pipeline.video_requests()) == {(s, 200): 2 for s in pipeline.with_video(talk)}

    pipeline.sandbox.reset_requests()
    assert pipeline.sync() == 0

    assert pipeline.link_requests() == [] and pipeline.video_requests() == []
    pipeline.assert_archived(talk)
    pipeline.assert_archived(survey)

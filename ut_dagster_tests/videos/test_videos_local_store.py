"""`ut-dagster sync --videos` into the local object store: every video archived byte for byte, once."""

from collections import Counter

from dagster import AssetKey, AssetRecordsFilter

from dagster_usertesting.testing import THINK_OUT_LOUD, StudySpec

MIB = 1 << 20
# 14 think-out-loud sessions: the sandbox gives the 14th (ordinal 13) no video, as a failed recording.
# (Survey tests, which have no videos at all, are covered by the S3 test: each test costs a run.)
STUDIES = (StudySpec(THINK_OUT_LOUD, 14),)
VIDEO_SIZE = MIB + 4099  # not a multiple of any chunk size


def _latest_video_metadata(pipeline, test_id: str) -> dict:
    result = pipeline.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(["usertesting", "session_videos"]), asset_partitions=[test_id]),
        limit=1,
    )
    metadata = result.records[0].asset_materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def test_sync_archives_every_video_once_and_a_rerun_downloads_nothing(make_video_pipeline):
    pipeline = make_video_pipeline(studies=STUDIES, video_size_bytes=VIDEO_SIZE)
    [talk] = pipeline.sandbox.test_ids
    [no_video] = pipeline.without_video(talk)
    assert len(pipeline.with_video(talk)) == 13

    assert pipeline.sync() == 0

    pipeline.assert_archived(talk)
    assert no_video not in set(pipeline.table().session_id)
    assert pipeline.store.get_bytes(f"videos/{talk}/{no_video}.none") == b""
    every_session = pipeline.sandbox.dataset.session_ids(talk)
    assert Counter(pipeline.link_requests()) == dict.fromkeys(every_session, 1)
    assert sorted(pipeline.video_requests()) == sorted((s, 200) for s in pipeline.with_video(talk))
    metadata = _latest_video_metadata(pipeline, talk)
    assert metadata["videos_downloaded"] == 13 and metadata["sessions_without_video"] == 1
    assert metadata["bytes_archived"] == 13 * VIDEO_SIZE and metadata["sessions_failed"] == 0
    assert pipeline.sandbox.server_errors == []

    # The pre-signed links (their signatures) are never stored: not in the store, table or run logs.
    stored = b"".join(
        pipeline.store.get_bytes(k) or b"" for k in pipeline.store.list_keys() if not k.endswith(".mp4")
    )
    logs = "".join(
        str(event) for run in pipeline.instance.get_runs() for event in pipeline.instance.all_logs(run.run_id)
    )
    table = pipeline.table().to_csv()
    for text in (stored.decode(errors="replace"), logs, table):
        assert "X-Amz-Signature" not in text and "/_video/" not in text

    before = pipeline.table().sort_values("session_id").reset_index(drop=True)
    # As if a run had been killed between committing a video and writing its record.
    recovered = sorted(pipeline.with_video(talk))[0]
    pipeline.store.delete(f"videos/{talk}/{recovered}.json")
    pipeline.sandbox.reset_requests()

    assert pipeline.sync() == 0

    assert pipeline.video_requests() == []
    assert pipeline.link_requests() == []
    pipeline.assert_archived(talk)
    after = pipeline.table().sort_values("session_id").reset_index(drop=True)
    unchanged = after.session_id != recovered
    assert after[unchanged].equals(before[unchanged])
    assert after.drop(columns="downloaded_at").equals(before.drop(columns="downloaded_at"))
    metadata = _latest_video_metadata(pipeline, talk)
    assert metadata["videos_downloaded"] == 0 and metadata["videos_already_archived"] == 13
    assert metadata["dagster/row_count"] == 13 and metadata["sessions_without_video"] == 1

"""`ut-dagster sync --videos` killed (SIGKILL) in the middle of a video download, then run again."""

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from dagster_usertesting.testing import THINK_OUT_LOUD, StudySpec
from ut_dagster.environment import Settings

MIB = 1 << 20
VIDEO_SIZE = 6 * MIB + 1


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def test_killed_mid_download_then_rerun_archives_everything_and_records_no_partial_video(
    start_sandbox, transfer_gate, video_archive_view, tmp_path, cli_env
):
    sandbox = start_sandbox(studies=(StudySpec(THINK_OUT_LOUD, 3),), video_size_bytes=VIDEO_SIZE)
    [test_id] = sandbox.test_ids
    # The second video requested stops 3 MiB in, until the test lets it go on.
    gate = transfer_gate(sandbox, pause_after=3 * MIB, pause_transfer=2)
    # The killed sync's hold on the test's API step ends 10 s after the kill: the rerun waits that out.
    env = {**cli_env(sandbox), "USERTESTING_STEP_LEASE_SECONDS": "10"}
    pipeline = video_archive_view(sandbox, Settings.from_env({"UT_DATA_DIR": env["UT_DATA_DIR"]}))
    with_video = pipeline.with_video(test_id)
    assert len(with_video) == 3
    folder = Path(pipeline.settings.object_store) / "videos" / test_id
    command = [sys.executable, "-m", "ut_dagster.cli", "sync", "--videos", test_id]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        # Killed while the download is in flight: held by the video host, its first bytes on disk.
        while not (gate.paused.is_set() and any(p.stat().st_size for p in _temp_files(folder))):
            assert process.poll() is None, "the sync finished before it could be killed"
            assert time.monotonic() < deadline, "the video download never started"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        gate.release()

    interrupted = gate.paused_session
    [(first, first_status), (second, second_status)] = pipeline.video_requests()
    assert (first_status, second, second_status) == (200, interrupted, 200)
    # The first video was committed and recorded; nothing of the interrupted one is visible, let
    # alone recorded; the third was never asked for.
    assert pipeline.record(test_id, first)["sha256"] == sandbox.dataset.video_sha256(first)
    assert pipeline.video_keys(test_id) == sorted(f"videos/{test_id}/{first}.{e}" for e in ("json", "mp4"))

    sandbox.reset_requests()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr

    pipeline.assert_archived(test_id)
    # Not downloaded again: the video archived before the kill. Restarted on a fresh link (links are
    # never kept): the interrupted one. Downloaded for the first time: the third.
    rest = with_video - {first}
    assert Counter(pipeline.video_requests()) == {(s, 200): 1 for s in rest}
    assert Counter(pipeline.link_requests()) == dict.fromkeys(rest, 1)
    assert all(key.endswith((".mp4", ".json")) for key in pipeline.store.list_keys("videos"))
    assert _temp_files(folder) == []  # the killed download's partial file is cleaned up, not left on disk
    assert sandbox.server_errors == []

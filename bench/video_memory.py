"""Peak memory while archiving one large session video: resident memory must grow by < 64 MiB.

    python -m bench.video_memory                       # 1 GiB video, local store, through the asset
    python -m bench.video_memory --stores local,s3     # also S3 (a moto server on 127.0.0.1)
    python -m bench.video_memory --paths asset,client  # also client.open_video + store.put_stream alone

The sandbox API (in this process) serves a generated video of --size-mib. Each measurement runs in a
fresh child process, which warms up first (imports, a first Dagster run or store write), then takes
its resident set size (RSS) as the baseline, archives the video and reports its peak RSS: the kernel's
high-water mark (VmHWM, reset after the warm-up through /proc/self/clear_refs) and a 5 ms sampler of
VmRSS, whichever is higher. Growth = peak - baseline. The archived bytes are then checked against the
sandbox's SHA-256. Results go to bench/results/video_memory.json; exit status 1 when any growth is
at or above the limit (or the archive is wrong). Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIB = 1 << 20
LIMIT_MIB = 64
RESULTS = Path(__file__).resolve().parent / "results" / "video_memory.json"
PATHS = ("asset", "client")
STORES = ("local", "s3")


# -- measuring (child process) ---------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_high_water_mark() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class PeakSampler:
    """Samples this process's RSS every `interval` seconds in a thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


@contextlib.contextmanager
def measure() -> Iterator[dict[str, Any]]:
    """Baseline now; on exit, fill in the peak and the growth over the baseline."""
    gc.collect()
    result: dict[str, Any] = {}
    hwm_reset = _reset_high_water_mark()
    baseline = _rss_bytes()
    started = time.perf_counter()
    with PeakSampler() as sampler:
        yield result
    elapsed = time.perf_counter() - started
    hwm = _status_kib("VmHWM") * 1024
    # Without a reset, VmHWM may hold a peak from before the baseline: only the sampler counts then.
    peak = max(sampler.peak, hwm) if hwm_reset else sampler.peak
    result.update(
        baseline_rss_bytes=baseline,
        peak_rss_bytes=peak,
        growth_bytes=peak - baseline,
        growth_mib=round((peak - baseline) / MIB, 2),
        high_water_mark_reset=hwm_reset,
        rss_samples=sampler.samples,
        seconds=round(elapsed, 2),
    )


def _object_store(spec: dict[str, Any]) -> Any:
    from dagster_usertesting.lib.object_store import ObjectStoreResource

    return ObjectStoreResource(
        url=spec["store_url"], endpoint_url=spec.get("endpoint_url"), region_name="us-east-1"
    )


def _api(spec: dict[str, Any]) -> Any:
    from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource

    return UserTestingResource(
        base_url=spec["api_url"],
        token_url=spec["token_url"],
        client_id=spec["client_id"],
        client_secret=spec["client_secret"],
        requests_per_minute=1000,
        rate_window_seconds=60.0,
        rate_limit_store=str(Path(spec["work_dir"]) / "rate-limit.sqlite"),
    )


def _archive_with_asset(spec: dict[str, Any]) -> dict[str, Any]:
    """The `usertesting/session_videos` asset in a Dagster run, as a sync runs it."""
    from dagster import DagsterInstance, materialize

    from dagster_usertesting.defs.assets import raw_sessions, session_videos
    from dagster_usertesting.defs.partitions import add_tests
    from dagster_usertesting.defs.resources import SyncPolicyResource, warehouse_io_manager
    from ut_dagster.environment import Settings

    settings = Settings.from_env({"UT_DATA_DIR": str(Path(spec["work_dir"]) / "data")})
    resources = {
        "usertesting": _api(spec),
        "object_store": _object_store(spec),
        "io_manager": warehouse_io_manager(settings),
        "sync_settings": SyncPolicyResource(),
    }
    with DagsterInstance.ephemeral() as instance:
        add_tests(instance, [spec["warmup_test_id"], spec["test_id"]])

        def run(test_id: str) -> Any:
            result = materialize(
                [raw_sessions.default, session_videos.default],
                partition_key=test_id,
                instance=instance,
                resources=resources,
            )
            if not result.success:
                raise RuntimeError(f"the run for test {test_id} failed")
            return result

        run(spec["warmup_test_id"])  # same code path, no video: imports and first-run costs
        with measure() as result:
            run(spec["test_id"])
    record = json.loads(_object_store(spec).store().get_bytes(spec["record_key"]) or b"{}")
    return {**result, "sha256": record.get("sha256"), "size_bytes": record.get("size_bytes")}


def _archive_with_client(spec: dict[str, Any]) -> dict[str, Any]:
    """Only what moves the bytes: client.open_video streaming into store.put_stream."""
    api = _api(spec)
    client = api.get_client()
    store = _object_store(spec).store()
    store.put_stream("bench/warmup", iter([b"warm", b"up"]), "text/plain")  # imports, connections
    store.delete("bench/warmup")
    client.get_video_download_url(spec["session_id"])
    try:
        with measure() as result:
            link = client.get_video_download_url(spec["session_id"])
            assert link is not None
            with client.open_video(link) as download:
                stored = store.put_stream(spec["video_key"], download.chunks, download.content_type)
    finally:
        api.close()
    return {**result, "sha256": stored.sha256, "size_bytes": stored.size_bytes}


def worker(spec_json: str) -> int:
    spec = json.loads(spec_json)
    archive = _archive_with_asset if spec["path"] == "asset" else _archive_with_client
    print(json.dumps(archive(spec)), flush=True)
    return 0


# -- orchestrating (parent process) ----------------------------------------------------------------


@contextlib.contextmanager
def moto_server(work_dir: Path) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with fake credentials, for this process and its children."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    fake = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(work_dir / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work_dir / "aws-credentials"),
    }
    cleared = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
    saved = {k: os.environ.get(k) for k in (*fake, *cleared)}
    os.environ.update(fake)
    for name in cleared:
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _stored_sha256(spec: dict[str, Any]) -> tuple[str, int]:
    store = _object_store(spec).store()
    digest, size = hashlib.sha256(), 0
    for chunk in store.iter_bytes(spec["video_key"], chunk_size=8 * MIB):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.video_memory", "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=3600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.video_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="video size in MiB (default %(default)s)")
    parser.add_argument("--stores", default="local", help="comma-separated: local, s3 (default %(default)s)")
    parser.add_argument(
        "--paths", default="asset", help="comma-separated: asset, client (default %(default)s)"
    )
    parser.add_argument(
        "--limit-mib", type=float, default=LIMIT_MIB, help="allowed RSS growth (default %(default)s)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="results JSON (default %(default)s)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if not Path("/proc/self/status").exists():
        print("bench.video_memory reads /proc: Linux only", file=sys.stderr)
        return 2
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not set(stores) <= set(STORES) or not set(paths) <= set(PATHS) or not stores or not paths:
        parser.error(f"--stores takes {', '.join(STORES)}; --paths takes {', '.join(PATHS)}")

    from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, SandboxConfig, SandboxServer, StudySpec

    size = args.size_mib * MIB
    config = SandboxConfig(
        studies=(StudySpec(SURVEY, 1), StudySpec(THINK_OUT_LOUD, 1)),
        requests_per_window=1000,
        window_seconds=60.0,
        video_size_bytes=size,
    )
    measurements = []
    with (
        tempfile.TemporaryDirectory(prefix="ut-bench-") as tmp,
        SandboxServer(config) as sandbox,
        contextlib.ExitStack() as stack,
    ):
        warmup_test_id, test_id = sandbox.test_ids
        [session_id] = sandbox.dataset.session_ids(test_id)
        print(f"Computing the SHA-256 of the {args.size_mib} MiB video the sandbox serves ...", flush=True)
        expected_sha = sandbox.dataset.video_sha256(session_id)
        endpoint = stack.enter_context(moto_server(Path(tmp))) if "s3" in stores else None
        for store in stores:
            for path in paths:
                work_dir = Path(tmp) / f"{store}-{path}"
                work_dir.mkdir()
                if store == "s3":
                    from dagster_usertesting.lib.object_store import ObjectStoreResource

                    bucket = f"ut-bench-{uuid.uuid4().hex[:10]}"
                    resource = ObjectStoreResource(
                        url=f"s3://{bucket}", endpoint_url=endpoint, region_name="us-east-1"
                    )
                    resource.s3_client().create_bucket(Bucket=bucket)
                    store_url = f"s3://{bucket}/archive"
                else:
                    store_url = str(work_dir / "objects")
                spec = {
                    "path": path,
                    "work_dir": str(work_dir),
                    "api_url": sandbox.url,
                    "token_url": sandbox.token_url,
                    "client_id": config.client_id,
                    "client_secret": config.client_secret,
                    "store_url": store_url,
                    "endpoint_url": endpoint if store == "s3" else None,
                    "warmup_test_id": warmup_test_id,
                    "test_id": test_id,
                    "session_id": session_id,
                    "video_key": f"videos/{test_id}/{session_id}.mp4",
                    "record_key": f"videos/{test_id}/{session_id}.json",
                }
                print(f"Archiving through the {path} into the {store} store ...", flush=True)
                result = _run_worker(spec)
                stored_sha, stored_size = _stored_sha256(spec)
                correct = stored_sha == result["sha256"] == expected_sha and stored_size == size
                passed = correct and result["growth_bytes"] < args.limit_mib * MIB
                measurements.append(
                    {
                        "store": store,
                        "path": path,
                        **result,
                        "throughput_mib_per_s": round(size / MIB / result["seconds"], 1),
                        "archived_bytes_match": correct,
                        "passed": passed,
                    }
                )
                print(
                    f"  {store:5} {path:6}  RSS {result['baseline_rss_bytes'] / MIB:7.1f} MiB -> peak "
                    f"{result['peak_rss_bytes'] / MIB:7.1f} MiB: growth {result['growth_mib']:6.2f} MiB "
                    f"(limit {args.limit_mib:g})  {result['seconds']:6.1f} s  "
                    f"{'bytes OK' if correct else 'BYTES WRONG'}  {'PASS' if passed else 'FAIL'}",
                    flush=True,
                )
                # Free the disk (a GiB per measurement) before the next one.
                with contextlib.suppress(Exception):
                    _object_store(spec).store().delete(spec["video_key"])

    report = {
        "benchmark": "video_memory",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "video_size_bytes": size,
        "limit_mib": args.limit_mib,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "measurements": measurements,
        "passed": all(m["passed"] for m in measurements),
        "target": f"peak RSS growth < {args.limit_mib} MiB archiving a {args.size_mib} MiB video",
        "measured": ", ".join(
            f"{m['store']}/{m['path']} {m['growth_mib']} MiB"
            + ("" if m["archived_bytes_match"] else " (bytes wrong)")
            for m in measurements
        ),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Results: {args.output}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

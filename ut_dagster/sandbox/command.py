"""`ut-dagster sandbox`: run the sandbox API in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from .config import KINDS, SandboxConfig, StudySpec
from .server import SandboxServer


def configure_parser(parser: argparse.ArgumentParser) -> None:
    d = SandboxConfig()
    add = parser.add_argument
    add("--port", type=int, default=8077, help="port on 127.0.0.1; 0 picks a free one (default %(default)s)")
    add("--seed", type=int, default=d.seed, help="seed of the generated data (default %(default)s)")
    add(
        "--requests-per-minute",
        type=int,
        default=d.requests_per_window,
        help="rate limit per credential and window",
    )
    add(
        "--window-seconds",
        type=float,
        default=d.window_seconds,
        help="rate-limit window (default %(default)s)",
    )
    add(
        "--error-rate",
        type=float,
        default=d.error_rate,
        help="fraction of API requests failing (5xx or hang-up)",
    )
    add("--latency", type=float, default=d.latency_seconds, help="seconds added to every API response")
    add(
        "--token-lifetime",
        type=float,
        default=d.token_lifetime_seconds,
        help="access token lifetime, seconds",
    )
    add(
        "--video-link-lifetime",
        type=float,
        default=d.video_link_lifetime_seconds,
        help="video link lifetime, s",
    )
    add("--video-size", type=int, default=d.video_size_bytes, help="bytes per session video (GBs are fine)")
    add("--video-drop-after", type=int, default=None, help="drop each video's first download after N bytes")
    add("--arrivals-per-list-request", type=int, default=0, help="new sessions inserted before each listing")
    add(
        "--malformed-session", action="append", default=[], help="serve this session's details as broken JSON"
    )
    add(
        "--study",
        action="append",
        default=None,
        metavar="KIND:SESSIONS",
        help=f"a generated test, e.g. SURVEY:600 (repeatable; kinds: {', '.join(KINDS)}); default: 4 tests",
    )
    add("--client-id", default=d.client_id)
    add("--client-secret", default=d.client_secret)
    add("--static-token", action="append", default=None, help="ready-made bearer token (repeatable)")


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    studies = tuple(_study(text) for text in args.study) if args.study else SandboxConfig().studies
    return SandboxConfig(
        seed=args.seed,
        studies=studies,
        requests_per_window=args.requests_per_minute,
        window_seconds=args.window_seconds,
        error_rate=args.error_rate,
        latency_seconds=args.latency,
        token_lifetime_seconds=args.token_lifetime,
        video_link_lifetime_seconds=args.video_link_lifetime,
        video_size_bytes=args.video_size,
        video_drop_after_bytes=args.video_drop_after,
        arrivals_per_list_request=args.arrivals_per_list_request,
        malformed_session_ids=frozenset(args.malformed_session),
        client_id=args.client_id,
        client_secret=args.client_secret,
        static_tokens=tuple(args.static_token or SandboxConfig().static_tokens),
    )


def _study(text: str) -> StudySpec:
    kind, _, count = text.partition(":")
    if not count.isdigit():
        raise ValueError(f"--study takes KIND:SESSIONS such as SURVEY:600, not {text!r}")
    return StudySpec(kind.upper(), int(count))


def describe(sandbox: SandboxServer) -> str:
    config = sandbox.config
    lines = [
        f"UserTesting sandbox API: {sandbox.url}",
        f"  token URL:     {sandbox.token_url}  (scope studies:read)",
        f"  client id:     {config.client_id}",
        f"  client secret: {config.client_secret}",
        f"  access token:  {sandbox.static_token}  (never expires)",
        f"  rate limit:    {config.requests_per_window} requests per {config.window_seconds:g} seconds per credential",
        f"  control:       {sandbox.url}/_sandbox/state  (see `ut_dagster.sandbox` for the admin routes)",
        "  tests:",
    ]
    for study in sandbox.dataset.studies:
        count = len(sandbox.dataset.sessions(study.test_id))
        lines.append(f"    {study.test_id}  {study.kind:<18} {count:>4} sessions  {study.title}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"sandbox: {error}")
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    sandbox = SandboxServer(config, port=args.port)
    try:
        sandbox.start()
    except OSError as error:
        signal.signal(signal.SIGTERM, previous)
        print(f"sandbox: cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}")
        return 1
    try:
        print(describe(sandbox), flush=True)
        print("Serving until Ctrl-C.", flush=True)
        # Short waits keep the main thread responsive to Ctrl-C on every platform.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        signal.signal(signal.SIGTERM, previous)
    print("Sandbox stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ut-dagster sandbox", description=__doc__)
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

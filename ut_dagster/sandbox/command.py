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
        "--study",
        action="append",
        default=None,
        metavar="KIND:SESSIONS",
        help=f"a generated test, e.g. SURVEY:600 (repeatable; kinds: {', '.join(KINDS)}); default: 4 tests",
    )
    add(
        "--requests-per-minute",
        type=int,
        default=d.requests_per_window,
        help="requests per window per credential (default 10)",
    )
    add("--window-seconds", type=float, default=d.window_seconds, help="rate-limit window (default 60)")
    add(
        "--error-rate",
        type=float,
        default=d.error_rate,
        help="fraction of API requests failing (5xx, hang-up)",
    )
    add("--token-lifetime", type=float, default=d.token_lifetime_seconds, help="access token lifetime, s")
    add(
        "--video-link-lifetime",
        type=float,
        default=d.video_link_lifetime_seconds,
        help="video link lifetime, s",
    )
    add("--video-size", type=int, default=d.video_size_bytes, help="bytes per session video (GBs are fine)")
    add("--client-id", default=d.client_id)
    add("--client-secret", default=d.client_secret)
    add("--static-token", action="append", default=None, help="ready-made bearer token (repeatable)")


def _study(text: str) -> StudySpec:
    kind, _, count = text.partition(":")
    if not count.isdigit():
        raise ValueError(f"--study takes KIND:SESSIONS such as SURVEY:600, not {text!r}")
    return StudySpec(kind.upper(), int(count))


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    defaults = SandboxConfig()
    return SandboxConfig(
        seed=args.seed,
        studies=tuple(_study(text) for text in args.study) if args.study else defaults.studies,
        requests_per_window=args.requests_per_minute,
        window_seconds=args.window_seconds,
        error_rate=args.error_rate,
        token_lifetime_seconds=args.token_lifetime,
        video_link_lifetime_seconds=args.video_link_lifetime,
        video_size_bytes=args.video_size,
        client_id=args.client_id,
        client_secret=args.client_secret,
        static_tokens=tuple(args.static_token or defaults.static_tokens),
    )


def describe(sandbox: SandboxServer) -> str:
    config = sandbox.config
    window = f"{config.requests_per_window} requests per {config.window_seconds:g} seconds per credential"
    lines = [
        f"UserTesting sandbox API: {sandbox.url}",
        f"  token URL:     {sandbox.token_url}  (scope studies:read)",
        f"  client id:     {config.client_id}",
        f"  client secret: {config.client_secret}",
        f"  access token:  {sandbox.static_token}  (never expires)",
        f"  rate limit:    {window}",
        f"  control:       {sandbox.url}/_sandbox/state  (admin routes: see the ut_dagster.sandbox docstring)",
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

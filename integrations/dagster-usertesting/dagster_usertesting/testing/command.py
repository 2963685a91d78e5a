"""`ut-dagster sandbox`: serve a sandbox in the foreground, configured by flags.

`ut-dagster` builds this subcommand's parser on every start, so the server is imported only to run.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING, Any

from .config import KINDS, SandboxConfig, StudySpec

if TYPE_CHECKING:
    from .server import SandboxServer


# `ut-dagster sandbox`: flag -> (SandboxConfig field, type, help).
_FLAGS: dict[str, tuple[str, type, str]] = {
    "--seed": ("seed", int, "seed of the generated data"),
    "--requests-per-minute": ("requests_per_window", int, "requests per window per credential"),
    "--window-seconds": ("window_seconds", float, "rate-limit window, s"),
    "--error-rate": ("error_rate", float, "fraction of API requests failing (5xx, hang-up)"),
    "--token-lifetime": ("token_lifetime_seconds", float, "access token lifetime, s"),
    "--video-link-lifetime": ("video_link_lifetime_seconds", float, "video link lifetime, s"),
    "--video-size": ("video_size_bytes", int, "bytes per session video (GBs are fine)"),
    "--listing-count-bias": ("listing_count_bias", int, "totalCount reported this much off the truth"),
    "--listing-session-field": ("listing_session_field", str, "key of each listed session's ID"),
}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--port", type=int, default=8077, help="port on 127.0.0.1; 0 picks a free one (default %(default)s)")
    for flag, (name, kind, text) in _FLAGS.items():
        add(
            flag,
            dest=name,
            metavar=kind.__name__.upper(),
            type=kind,
            default=getattr(SandboxConfig, name),
            help=f"{text} (default %(default)s)",
        )
    add(
        "--study",
        action="append",
        metavar="KIND:SESSIONS",
        help=f"a test, e.g. SURVEY:600 ({', '.join(KINDS)})",
    )
    add("--static-token", action="append", help="ready-made bearer token (repeatable)")


def _study(text: str) -> StudySpec:
    kind, _, count = text.partition(":")
    if not count.isdigit():
        raise ValueError(f"--study takes KIND:SESSIONS such as SURVEY:600, not {text!r}")
    return StudySpec(kind.upper(), int(count))


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    fields: dict[str, Any] = {name: getattr(args, name) for name, *_ in _FLAGS.values()}
    if args.study:
        fields["studies"] = tuple(_study(text) for text in args.study)
    if args.static_token:
        fields["static_tokens"] = tuple(args.static_token)
    return SandboxConfig(**fields)


def describe(sandbox: SandboxServer) -> str:
    config = sandbox.config
    lines = [
        f"UserTesting sandbox API: {sandbox.url}",
        f"  token URL:     {sandbox.token_url}  (scope studies:read)",
        f"  client id:     {config.client_id}",
        f"  client secret: {config.client_secret}",
        f"  access token:  {sandbox.static_token}  (never expires)",
        f"  rate limit:    {config.requests_per_window} requests per {config.window_seconds:g} seconds per credential",
        f"  control:       {sandbox.url}/_sandbox/state  (admin routes: see the dagster_usertesting.testing docstring)",
        "  tests:",
    ]
    for study in sandbox.dataset.studies:
        count = len(sandbox.dataset.sessions(study.test_id))
        lines.append(f"    {study.test_id}  {study.kind:<18} {count:>4} sessions  {study.title}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Serve in the foreground until Ctrl-C or SIGTERM."""
    from .server import SandboxServer

    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"sandbox: {error}")
        return 2
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with SandboxServer(config, port=args.port) as sandbox:
            print(describe(sandbox), "Serving until Ctrl-C.", sep="\n", flush=True)
            while not stop.wait(0.5):  # short waits keep Ctrl-C responsive on every platform
                pass
    except OSError as error:
        print(f"sandbox: cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}")
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("Sandbox stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ut-dagster sandbox", description=run.__doc__)
    configure_parser(parser)
    return run(parser.parse_args(argv))

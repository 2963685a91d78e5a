"""`ut-dagster sandbox` as a user runs it: prints how to connect, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dagster_usertesting.testing import SURVEY, THINK_OUT_LOUD, SandboxConfig, StudySpec
from dagster_usertesting.testing.command import config_from_args, configure_parser

REPO = Path(__file__).resolve().parents[2]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(argv)


def test_defaults_are_the_documented_behaviour() -> None:
    assert config_from_args(parse()) == SandboxConfig()
    config = config_from_args(
        parse("--requests-per-minute", "600", "--error-rate", "0.1", "--video-size", "3000000000")
    )
    assert (config.requests_per_window, config.error_rate, config.video_size_bytes) == (
        600,
        0.1,
        3_000_000_000,
    )


def test_listing_misbehaviour_is_chosen_on_the_command_line() -> None:
    config = config_from_args(parse("--listing-count-bias", "-100", "--listing-session-field", "id"))
    assert (config.listing_count_bias, config.listing_session_field) == (-100, "id")


def test_studies_are_chosen_on_the_command_line() -> None:
    config = config_from_args(parse("--study", "survey:600", "--study", "THINK_OUT_LOUD:3"))
    assert config.studies == (StudySpec(SURVEY, 600), StudySpec(THINK_OUT_LOUD, 3))
    for wrong in ("SURVEY", "SURVEY:many", "POLL:3"):
        with pytest.raises(ValueError):
            config_from_args(parse("--study", wrong))


def test_command_serves_until_sigterm() -> None:
    command = [
        sys.executable,
        "-c",
        "from dagster_usertesting.testing.command import main; raise SystemExit(main())",
    ]
    process = subprocess.Popen(
        [*command, "--port", "0", "--static-token", "t0ken"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Serving"):
                break
        printed = "".join(lines)
        url = re.search(r"API: (http://127\.0\.0\.1:\d+)", printed)
        assert url, printed
        assert "sandbox-client" in printed and "sandbox-secret" in printed and "t0ken" in printed
        test_id = re.findall(r"^\s+([0-9a-f-]{36})\s", printed, re.M)[0]
        response = httpx.get(
            f"{url[1]}/api/v2/sessionResults",
            params={"testId": test_id},
            headers={"Authorization": "Bearer t0ken"},
        )
        assert response.status_code == 200
        total = response.json()["meta"]["pagination"]["totalCount"]
        # A sandbox in another process is driven over its admin routes.
        churn = httpx.post(f"{url[1]}/_sandbox/churn", json={"deleted": 2, "new": 1, "test_ids": [test_id]})
        assert churn.status_code == 200 and len(churn.json()["result"][test_id]["deleted"]) == 2
        state = httpx.get(f"{url[1]}/_sandbox/state").json()
        assert state["tests"][0]["total_count"] == total - 1 and state["requests"] == {"list_sessions": 1}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "Sandbox stopped." in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

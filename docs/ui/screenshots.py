"""Screenshots of the Dagster UI over a demo with some history, for docs/ui.md (`make ui-screenshots`).

Makes the history a user makes: the four sandbox tests synced by `ut-dagster sync` and the marts
built; then 5 new sessions on the think-out-loud test and the interaction test's access revoked (a
401), synced again; the API budget observed and the freshness checks run. Then it starts
`dagster-webserver` on 127.0.0.1 over that instance and photographs each page docs/ui.md describes in
headless Chromium (Debian's `chromium`, driven by Playwright: `pip install playwright`).

    .venv/bin/python docs/ui/screenshots.py [--chromium /usr/bin/chromium] [--keep DATA_DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
RATE = {"requests_per_window": 50, "window_seconds": 1.0}
VIEWPORT = {"width": 1600, "height": 1100}
LOCATION = "__repository__@ut_dagster"

# (file name, path in the UI ({test}: the think-out-loud test), text to wait for before the picture)
PAGES = [
    ("runs", "/runs", "usertesting_sync"),
    ("job_runs", f"/locations/{LOCATION}/jobs/usertesting_sync/runs", "usertesting_sync"),
    ("timeline", "/overview/activity/timeline", "usertesting_sync"),
    ("lineage", f"/locations/{LOCATION}/asset-groups/usertesting/lineage", "session_details"),
    ("tasks", "/assets/usertesting/tasks", "Columns"),
    (
        "raw_sessions_partitions",
        "/assets/usertesting/raw_sessions?view=partitions&partition={test}",
        "test_title",
    ),
    (
        "session_details_checks",
        "/assets/usertesting/session_details?view=checks",
        "warehouse_matches_landing",
    ),
    ("tests_table", "/assets/usertesting/tests?view=events", "registered_tests"),
    ("api_budget", "/assets/usertesting/api_budget", "requests_today"),
    ("automation", "/automation", "usertesting_new_sessions"),
    ("marts", "/assets/usertesting_marts/test_summary", "Columns"),
]


def make_history(data_dir: Path) -> tuple[dict[str, str], object]:
    """The demo's syncs and a second round with new sessions and a revoked test: the environment it
    used, and the sandbox, left serving (the UI's code location loads against it)."""
    from dagster_usertesting.testing import SandboxConfig, SandboxServer

    sandbox = SandboxServer(SandboxConfig(**RATE)).start()
    env = {
        "UT_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        **sandbox.client_environment(),
    }
    os.environ.update(env)  # this script's own process: the CLI code reads its settings from it

    from ut_dagster.cli.code_location import runs_in_code_location
    from ut_dagster.cli.instance import dagster_instance
    from ut_dagster.cli.marts_demo import build_and_print_marts
    from ut_dagster.cli.sync import refresh_test_list, run_sync
    from ut_dagster.definitions import defs
    from ut_dagster.environment import Settings

    settings = Settings.from_env()
    refresh_test_list(settings)
    think_aloud, interaction, *_ = sandbox.test_ids
    run_sync(sandbox.test_ids)
    build_and_print_marts(settings)
    sandbox.dataset.add_sessions(think_aloud, 5)
    sandbox.dataset.revoke_test(interaction, status=401)
    run_sync(sandbox.test_ids)  # the interaction test's run fails, naming its access
    instance = dagster_instance(settings)
    with runs_in_code_location(instance):
        for job in ("usertesting_api_budget", "usertesting_freshness"):
            defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
    return env, sandbox


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_webserver(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"dagster-webserver exited; see {log}")
        try:
            body = httpx.post(f"{url}/graphql", json={"query": query}, timeout=10).json()
            entries = body["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return server, url
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit(f"dagster-webserver did not load the code location in 300 s; see {log}")


def photograph(url: str, chromium: str, test_id: str) -> list[str]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    missed = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url + "/runs")
        # A fresh browser is first asked to join Dagster's community: not part of the pictures.
        with contextlib.suppress(PlaywrightTimeout):
            page.get_by_role("button", name="Skip").click(timeout=15_000)
        for name, path, wait_for in PAGES:
            path = path.format(test=test_id)
            page.goto(url + path)
            try:
                page.get_by_text(wait_for).first.wait_for(timeout=60_000)
            except PlaywrightTimeout:
                missed.append(f"{name}: '{wait_for}' not shown at {path}")
            page.wait_for_timeout(2_500)  # charts and counts fill in after the first paint
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"docs/ui/{name}.png  <- {path}")
        browser.close()
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--keep", type=Path, help="make the history in this folder and keep it")
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        print(
            f"No Chromium at {args.chromium}: `apt-get install chromium`, or pass --chromium.",
            file=sys.stderr,
        )
        return 2
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="ut-ui-"))
    env, sandbox = make_history(data_dir)
    server, url = start_webserver(env, data_dir / "webserver.log")
    try:
        missed = photograph(url, args.chromium, sandbox.test_ids[0])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        sandbox.stop()
    for line in missed:
        print(f"warning: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

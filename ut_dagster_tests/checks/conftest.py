"""A real `dagster-webserver` over an instance that real syncs wrote: the checks as the UI reads them."""

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ut_dagster_tests.webserver import Webserver, free_port, serving

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def start_webserver(tmp_path) -> Iterator:
    """Starts `dagster-webserver` on the checkout's workspace with the given data dir; stops it after."""
    with ExitStack() as servers:

        def start(data_dir: Path) -> Webserver:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("UT_", "USERTESTING_"))},
                "UT_DATA_DIR": str(data_dir),
                "DAGSTER_HOME": str(data_dir / "dagster_home"),
            }
            port = free_port()
            command = [BIN / "dagster-webserver", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
            return servers.enter_context(serving(command, port, REPO, env, tmp_path / "webserver.log"))

        yield start

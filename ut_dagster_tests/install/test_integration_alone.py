"""dagster-usertesting's tests run from its own folder, as in a checkout of the integration alone:
its pytest settings and its fixtures (dagster_usertesting_tests/fixtures.py), nothing of ut-dagster's."""

import os
import sys
from pathlib import Path

from ut_dagster_tests.install.commands import run_command

INTEGRATION = Path(__file__).resolve().parents[2] / "integrations" / "dagster-usertesting"
# Tests that need the fixtures ut-dagster's conftest used to give: an S3 server, a sandbox.
SAMPLE = (
    "dagster_usertesting_tests/object_store",
    "dagster_usertesting_tests/usertesting/test_in_process_sandbox.py",
)


def test_the_integration_s_tests_run_alone_from_its_folder() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    result = run_command(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *SAMPLE],
        INTEGRATION,
        env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"rootdir: {INTEGRATION}" in output
    assert " passed" in output

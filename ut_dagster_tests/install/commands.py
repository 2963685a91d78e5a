"""A command run as a user runs it from a shell, for the install tests: output kept, exit code returned."""

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# dg, dbt parse and a definitions load take half a minute alone, far more on a shared 2-core host.
TIMEOUT_SECONDS = 600


def run_command(
    command: Sequence[str | Path], cwd: Path, env: Mapping[str, str], timeout: float = TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run `command` to its end; the caller asserts on its exit code and output (stdout + stderr)."""
    return subprocess.run(
        list(command), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )

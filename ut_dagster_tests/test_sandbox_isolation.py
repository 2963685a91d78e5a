"""The sandbox is a development tool: the code location deployed to Dagster never imports it."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import ut_dagster.definitions
print("\\n".join(sorted(m for m in sys.modules if m == "dagster_usertesting.testing" or m.startswith("dagster_usertesting.testing."))))
"""


def test_the_code_location_imports_no_sandbox_module() -> None:
    # A fresh interpreter: this test process has imported the sandbox already.
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []

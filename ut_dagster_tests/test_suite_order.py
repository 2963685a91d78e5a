"""The suite's order for `make test`'s workers (ut_dagster_tests/suite_order.py): it must name real files and
reach the workers."""

import re
from pathlib import Path

from ut_dagster_tests.suite_order import LONG_FILES

ROOT = Path(__file__).resolve().parents[1]


def test_long_files_exist() -> None:
    # A renamed or deleted test file would silently drop back to the end of the run.
    missing = [path for path in LONG_FILES if not (ROOT / path).is_file()]
    assert not missing, f"LONG_FILES names files that do not exist: {missing}"


def test_make_test_keeps_the_order_the_conftest_gives() -> None:
    # xdist's default reorders files by their number of tests, which undoes LONG_FILES.
    (command,) = re.findall(r"^\t\$\(BIN\)/python -m pytest -n .*$", (ROOT / "Makefile").read_text(), re.M)
    assert "--dist loadfile" in command and "--no-loadscope-reorder" in command, command

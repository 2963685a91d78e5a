"""The fixtures of the whole workspace are dagster-usertesting's (sandbox, resources, S3 server, live
instance), shared by ut_dagster_tests and the integration's own tests."""

from pathlib import Path

import pytest

from ut_dagster_tests.suite_order import long_files_first

pytest_plugins = ["dagster_usertesting_tests.fixtures"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every worker collects and sorts the same way, as xdist requires.
    long_files_first(Path(config.rootpath), items)

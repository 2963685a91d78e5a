"""What the UI reads: the webserver's GraphQL schema, over the checkout's workspace (code location
`ut_dagster`, loaded by a code server the test starts and stops) and a real instance under tmp_path.

dagster-graphql's test utilities answer the same schema the webserver serves, in this process:
the same queries as a `dagster-webserver` on 127.0.0.1, without its HTTP server and web app.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

REPO = Path(__file__).resolve().parents[2]

Query = Callable[..., dict[str, Any]]


@pytest.fixture
def ui_graphql(tmp_path, monkeypatch) -> Callable[[DagsterInstance], Any]:
    """`with ui_graphql(instance) as query: query(text, **variables)` -> the answer's data."""
    # The code server is a subprocess of this one: the project's settings it loads with come from
    # here, the data under tmp_path and no credential or setting of whoever runs the tests.
    for name in [n for n in os.environ if n.startswith(("UT_", "USERTESTING_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("UT_DATA_DIR", str(tmp_path / "data"))

    @contextmanager
    def open_ui(instance: DagsterInstance) -> Iterator[Query]:
        with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:

            def query(text: str, **variables: object) -> dict[str, Any]:
                result = execute_dagster_graphql(context, text, variables)
                assert not result.errors, result.errors
                return result.data

            yield query

    return open_ui

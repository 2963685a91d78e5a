"""Import cost and loading in the production configuration (fresh interpreters, environment only).

The DuckDB counterpart is in ut_dagster_tests/pipeline/test_pipeline_cli.py.
"""

import os
import subprocess
import sys

HEAVY = ("dagster_snowflake", "snowflake.connector", "dagster_aws.s3", "boto3")


def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "UT_", "USERTESTING_"))}
    return {
        **env,
        "UT_DATA_DIR": str(tmp_path),
        "UT_WAREHOUSE": "snowflake",
        "UT_OBJECT_STORE": "s3://ut-landing/usertesting",
        "UT_S3_ENDPOINT_URL": "http://127.0.0.1:9",  # never contacted: loading opens no connection
        "SNOWFLAKE_ACCOUNT": "acme-prod",
        "SNOWFLAKE_USER": "ut_loader",
        "SNOWFLAKE_PASSWORD": "hunter2",
        "SNOWFLAKE_DATABASE": "UT_PROD",
    }


def run_python(code: str, env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_help_stays_free_of_snowflake_and_s3_imports(tmp_path):
    code = (
        "import contextlib, io, sys\n"
        "from ut_dagster.cli import main\n"
        "shown = io.StringIO()\n"
        "for argv in (['--help'], ['sync', '--help']):\n"
        "    with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "print(shown.getvalue().count('usage: ut-dagster'))\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    assert run_python(code, production_env(tmp_path)) == ["2", "[]"]


def test_code_location_loads_with_snowflake_and_s3(tmp_path):
    code = (
        "import sys\n"
        "from dagster import Definitions\n"
        "from ut_dagster.definitions import defs\n"
        "Definitions.validate_loadable(defs)\n"
        "store = defs.resources['object_store']\n"
        "print(type(defs.resources['io_manager']).__name__)\n"
        "print(store.url, store.endpoint_url)\n"
        # The S3 store is built on first use, so loading the code location never imports dagster-aws.
        "print('dagster_aws.s3' in sys.modules)\n"
    )
    assert run_python(code, production_env(tmp_path)) == [
        "UserTestingSnowflakeIOManager",
        "s3://ut-landing/usertesting http://127.0.0.1:9",
        "False",
    ]

"""The production configuration, end to end, without leaving the machine.

Sandbox API -> real Dagster runs -> Snowflake (fakesnow, patched in-process) + raw landing area on
S3 (a moto server on 127.0.0.1). Nothing is overridden: the definitions come from
`build_definitions(Settings.from_env())` with only environment variables set (UT_*, USERTESTING_*,
SNOWFLAKE_*, AWS_*), exactly as a deployment configures them.

One setup per test module (fakesnow's import and the first sync are the slow part): the fixture
`production` is the started stack, `synced` the same after every non-empty test was synced once.
Tests may rerun syncs but must leave the warehouse tables as the first sync left them (the landing
area keeps every response, so a refetch adds newer objects there) and write elsewhere through a
scratch database (`scratch_database`, with SNOWFLAKE_DATABASE monkeypatched: it is read when a run
starts).
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME
from dagster_usertesting.testing import (
    INTERACTION,
    SURVEY,
    THINK_OUT_LOUD,
    SandboxConfig,
    SandboxServer,
    StudySpec,
)
from ut_dagster.cli.dagster_home import DEFAULT_INSTANCE_YAML
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings

# Think-out-loud sessions have transcripts, interaction tests have QXscores; the survey is empty.
STUDIES = (StudySpec(THINK_OUT_LOUD, 5), StudySpec(INTERACTION, 4), StudySpec(SURVEY, 0))
DATABASE = "UT_PROD"
BUCKET = "ut-landing"
PREFIX = "usertesting/landing"
# Same limiter settings as the suite's other sandbox tests: fast, but the limiter is exercised.
RATE = {"requests_per_window": 50, "window_seconds": 1.0}


@dataclass
class ProductionPipeline:
    sandbox: SandboxServer
    settings: Settings
    defs: Definitions
    instance: DagsterInstance
    s3: Any  # boto3 client on the moto server
    database: str = DATABASE
    bucket: str = BUCKET
    prefix: str = PREFIX

    @property
    def synced_test_ids(self) -> list[str]:
        return [t for t in self.sandbox.test_ids if self.sandbox.dataset.session_ids(t)]

    @property
    def empty_test_id(self) -> str:
        return next(t for t in self.sandbox.test_ids if not self.sandbox.dataset.session_ids(t))

    def sync(self, test_ids: list[str] | None = None, **kwargs: Any) -> int:
        return run_sync(test_ids or self.synced_test_ids, defs=self.defs, instance=self.instance, **kwargs)

    def materialize(self, keys: list[AssetKey], test_id: str) -> ExecuteInProcessResult:
        """Only `keys` of the sync job, for one partition (e.g. a downstream asset on its own)."""
        job = self.defs.resolve_job_def(SYNC_JOB_NAME)
        return job.execute_in_process(instance=self.instance, partition_key=test_id, asset_selection=keys)

    def query(self, sql: str, database: str | None = None) -> list[tuple]:
        # fakesnow keeps one in-memory DuckDB for the whole patch: a new connection sees every write.
        import snowflake.connector

        with snowflake.connector.connect(database=database or self.database, schema="USERTESTING") as conn:
            return conn.cursor().execute(sql).fetchall()

    def table(self, name: str, test_id: str | None = None, database: str | None = None) -> pd.DataFrame:
        import snowflake.connector

        database = database or self.database
        where = f" WHERE test_id = '{test_id}'" if test_id else ""
        with snowflake.connector.connect(database=database, schema="USERTESTING") as conn:
            frame = (
                conn.cursor()
                .execute(f"SELECT * FROM {database}.usertesting.{name}{where}")
                .fetch_pandas_all()
            )
        return frame.rename(columns=str.lower)

    def landed(self, under: str = "") -> dict[str, bytes]:
        """Every object of the landing area in the bucket (key relative to the prefix -> bytes)."""
        found = {}
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/{under}"):
            for item in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len(self.prefix) + 1 :]] = body
        return found


def _environment(sandbox: SandboxServer, data_dir: str, endpoint_url: str) -> dict[str, str]:
    """What a deployment sets (secrets included); nothing else configures the definitions."""
    return {
        "UT_DATA_DIR": data_dir,
        "UT_WAREHOUSE": "snowflake",
        "UT_OBJECT_STORE": f"s3://{BUCKET}/{PREFIX}",
        "UT_S3_ENDPOINT_URL": endpoint_url,
        "SNOWFLAKE_ACCOUNT": "acme-prod",
        "SNOWFLAKE_USER": "ut_loader",
        "SNOWFLAKE_PASSWORD": "hunter2",
        "SNOWFLAKE_DATABASE": DATABASE,
        "SNOWFLAKE_WAREHOUSE": "LOADING",
        "SNOWFLAKE_ROLE": "LOADER",
        **sandbox.client_environment(),
        "USERTESTING_BACKOFF_BASE_SECONDS": "0.01",
        "USERTESTING_BACKOFF_MAX_SECONDS": "0.05",
        # Fake AWS credentials through the standard chain, and no user AWS config that could interfere.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


UNSET = (
    "UT_DUCKDB_PATH",
    "USERTESTING_ACCESS_TOKEN",
    "USERTESTING_RATE_LIMIT_STORE",
    "SNOWFLAKE_PRIVATE_KEY",
    "SNOWFLAKE_PRIVATE_KEY_PATH",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionPipeline]:
    import fakesnow
    from moto.server import ThreadedMotoServer

    root = tmp_path_factory.mktemp("production")
    sandbox = SandboxServer(SandboxConfig(studies=STUDIES, **RATE)).start()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0: a free port
    moto.start()
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEFAULT_INSTANCE_YAML)  # the API pool's limit, as `ut-dagster sync`
    instance = DagsterInstance.local_temp(str(home))
    try:
        host, port = moto.get_host_and_port()
        with pytest.MonkeyPatch.context() as env:
            for name, value in _environment(sandbox, str(root / "data"), f"http://{host}:{port}").items():
                env.setenv(name, value)
            env.setenv("AWS_CONFIG_FILE", str(root / "aws-config"))
            env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(root / "aws-credentials"))
            for name in UNSET:
                env.delenv(name, raising=False)
            with fakesnow.patch():
                settings = Settings.from_env()
                defs = build_definitions(settings)  # the production resources, no override
                s3 = defs.resources["object_store"].s3_client()
                s3.create_bucket(Bucket=BUCKET)
                yield ProductionPipeline(sandbox, settings, defs, instance, s3)
    finally:
        instance.dispose()
        moto.stop()
        sandbox.stop()


@pytest.fixture(scope="module")
def synced(production: ProductionPipeline) -> ProductionPipeline:
    assert production.sync() == 0
    return production


@pytest.fixture
def scratch_database() -> str:
    """A Snowflake database name no other test writes to."""
    return f"UT_SCRATCH_{uuid.uuid4().hex[:8].upper()}"

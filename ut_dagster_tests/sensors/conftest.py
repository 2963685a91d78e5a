"""A sensor rig: the sandbox answering in process, a real Dagster instance, sensors evaluated tick by tick."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

import pytest
from dagster import (
    DagsterInstance,
    Definitions,
    RunRequest,
    SensorResult,
    build_sensor_context,
    instance_for_test,
)

from dagster_usertesting.defs.jobs import SYNC_JOB_NAME
from dagster_usertesting.defs.partitions import add_tests, test_partitions
from dagster_usertesting.defs.sensors import build_discovery_sensor, build_new_sessions_sensor
from dagster_usertesting.lib.landing import Landing, Listing, utc_now
from dagster_usertesting.settings import SensorSettings
from dagster_usertesting.testing import SandboxServer
from ut_dagster.cli.sync import run_sync
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings


@dataclass
class Rig:
    sandbox: SandboxServer
    settings: Settings
    defs: Definitions
    instance: DagsterInstance
    cursors: dict[str, str | None] = field(default_factory=dict)

    @property
    def landing(self) -> Landing:
        return Landing(self.defs.resources["object_store"].store())

    def register(self, *test_ids: str) -> None:
        add_tests(self.instance, list(test_ids))

    def registered(self) -> set[str]:
        return set(self.instance.get_dynamic_partitions(test_partitions.name))

    def land(self, *test_ids: str, details: bool = True) -> None:
        """Leave what a successful sync leaves in the landing area (the sensor's view of "synced"):
        the listing as served, and the details of every listed session. Quicker than a run."""
        client = self.defs.resources["usertesting"].get_client()
        for test_id in test_ids:
            listing = client.list_sessions(test_id)
            listed_at = utc_now().isoformat()
            sessions = {s["sessionId"]: {**s, "_listed_at": listed_at} for s in listing}
            total = listing.progress.total_count
            self.landing.write_listing(Listing(test_id, total, sessions, reconciled_at=listed_at))
            for session_id in sessions if details else ():
                self.landing.put_session_object(
                    test_id, "session_details", session_id, "json", b"{}", utc_now()
                )

    def sync(self, *test_ids: str) -> int:
        return run_sync(list(test_ids), defs=self.defs, instance=self.instance, settings=self.settings)

    def run(self, request: RunRequest) -> bool:
        """Execute a run the sensor requested, as the daemon would: its partition and its tags."""
        job = self.defs.resolve_job_def(request.job_name or SYNC_JOB_NAME)
        result = job.execute_in_process(
            instance=self.instance,
            partition_key=request.partition_key,
            tags=request.tags,
            raise_on_error=False,
        )
        return result.success

    def tick(self, usertesting: object | None = None, **sensor_settings: object) -> SensorResult:
        """One evaluation of the new-sessions sensor, carrying the cursor over from the last one."""
        settings = replace(self.settings.sensors, **sensor_settings)
        overrides = {"usertesting": usertesting} if usertesting is not None else {}
        return self._evaluate(
            build_new_sessions_sensor(settings), ("usertesting", "object_store", "sync_settings"), overrides
        )

    def discover(
        self,
        usertesting: object | None = None,
        clock: Callable[[], float] | None = None,
        **sensor_settings: object,
    ) -> SensorResult:
        """One evaluation of the discovery sensor; `usertesting` replaces the resource (another
        credential), `clock` the sensor's wall clock (simulated time)."""
        settings = replace(self.settings.sensors, **sensor_settings)
        sensor = build_discovery_sensor(settings, **({"clock": clock} if clock else {}))
        overrides = {"usertesting": usertesting} if usertesting is not None else {}
        result = self._evaluate(sensor, ("usertesting",), overrides)
        for request in result.dynamic_partitions_requests or []:
            add_tests(self.instance, list(request.partition_keys))  # what the daemon does
        return result

    def _evaluate(
        self, sensor, resource_keys: tuple[str, ...], overrides: dict | None = None
    ) -> SensorResult:
        resources = {**{k: self.defs.resources[k] for k in resource_keys}, **(overrides or {})}
        cursor = self.cursors.get(sensor.name)
        with build_sensor_context(instance=self.instance, cursor=cursor, resources=resources) as context:
            result = sensor(context)
            if not isinstance(result, SensorResult):  # a generator of RunRequests and SkipReasons
                requests = [r for r in result or [] if isinstance(r, RunRequest)]
                result = SensorResult(run_requests=requests, cursor=context.cursor)
            self.cursors[sensor.name] = result.cursor if result.cursor is not None else cursor
        return result


@pytest.fixture
def make_rig(tmp_path, start_sandbox, sandbox_resource) -> Iterator[Callable[..., Rig]]:
    stack = ExitStack()

    def make(sensors: SensorSettings | None = None, api: dict | None = None, **sandbox_config: object) -> Rig:
        sandbox = start_sandbox(**sandbox_config)
        settings = replace(
            Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data")}), sensors=sensors or SensorSettings()
        )
        resource = sandbox_resource(sandbox, rate_limit_store=settings.rate_limit_store, **(api or {}))
        instance = stack.enter_context(instance_for_test())
        return Rig(sandbox, settings, build_definitions(settings, {"usertesting": resource}), instance)

    with stack:
        yield make

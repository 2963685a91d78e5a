"""UT_SENSOR_* and UT_DISCOVER_* settings reach the sensors' definitions and probe schedule."""

import pytest

from dagster_usertesting.defs.sensors import build_new_sessions_sensor, probe_schedule
from dagster_usertesting.settings import SensorSettings
from ut_dagster.environment import Settings


def test_settings_from_the_environment_shape_the_sensors():
    env = {
        "UT_SENSOR_RUNNING": "true",
        "UT_SENSOR_INTERVAL_SECONDS": "30",
        "UT_SENSOR_BATCH": "8",
        "UT_SENSOR_ACTIVE_MINUTES": "15",
        "UT_SENSOR_DORMANT_HOURS": "12",
        "UT_SENSOR_ACTIVITY_DAYS": "3",
        "UT_DISCOVER_WORKSPACES": "Research Team Workspace, Design Ops",
        "UT_DISCOVER_TITLE_PATTERN": "^checkout",
        "UT_TEST_MAX_FAILED_RUNS": "5",
        "UT_PROBE_BUDGET_CEILING": "0.7",
    }
    settings = Settings.from_env(env).sensors
    assert settings.discover_workspaces == ("Research Team Workspace", "Design Ops")
    assert settings.discover_title_pattern == "^checkout"
    schedule = probe_schedule(settings)
    assert (schedule.active_interval_s, schedule.dormant_interval_s, schedule.activity_window_s) == (
        900,
        43200,
        259200,
    )
    assert (schedule.tick_interval_s, schedule.batch, schedule.max_failed_runs) == (30, 8, 5)
    assert Settings.from_env(env).sensors.max_failed_runs == 5
    assert schedule.probes.ceiling == 0.7 and schedule.probes.min_interval_s == 900
    sensor = build_new_sessions_sensor(settings)
    assert sensor.minimum_interval_seconds == 30 and sensor.default_status.value == "RUNNING"
    assert build_new_sessions_sensor(SensorSettings()).default_status.value == "STOPPED"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("UT_SENSOR_BATCH", "many"),
        ("UT_SENSOR_RUNNING", "sometimes"),
        ("UT_SENSOR_BATCH", "0"),
        ("UT_TEST_MAX_FAILED_RUNS", "0"),
        ("UT_PROBE_BUDGET_CEILING", "1.5"),
        ("UT_PROBE_BUDGET_CEILING", "0"),
        ("UT_PROBE_BUDGET_CEILING", "most"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(name, value):
    with pytest.raises(ValueError, match=name):
        probe_schedule(Settings.from_env({name: value}).sensors)

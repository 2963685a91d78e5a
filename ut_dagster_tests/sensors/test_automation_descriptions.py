"""What the UI's Automation and Jobs pages tell a user: what runs by itself, what must be turned on,
and names that match the README's."""

import re
from pathlib import Path

import pytest
from dagster import DefaultScheduleStatus, DefaultSensorStatus

from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
# The two ways of keeping registered tests current: at least one must be on.
KEEPERS = ("usertesting_new_sessions", "usertesting_scheduled_sync")


def _repository(tmp_path, **env: str):
    return build_definitions(Settings.from_env({"UT_DATA_DIR": str(tmp_path), **env})).get_repository_def()


def _keepers(repository) -> dict[str, tuple[bool, str]]:
    """name -> (starts running, description) of the sensor and the schedule that keep tests current."""
    sensors = {s.name: s for s in repository.sensor_defs}
    schedules = {s.name: s for s in repository.schedule_defs}
    sensor, schedule = sensors[KEEPERS[0]], schedules[KEEPERS[1]]
    return {
        sensor.name: (sensor.default_status == DefaultSensorStatus.RUNNING, sensor.description or ""),
        schedule.name: (schedule.default_status == DefaultScheduleStatus.RUNNING, schedule.description or ""),
    }


def test_each_way_of_keeping_tests_current_says_it_starts_off_and_what_to_turn_on(tmp_path):
    for name, (running, description) in _keepers(_repository(tmp_path)).items():
        assert not running
        assert "off by default" in description.lower(), name
        # Names the other way too: turning on either one is enough.
        assert all(keeper in description for keeper in KEEPERS if keeper != name), description
        assert "turn on" in description.lower()


def test_a_sensor_started_by_the_deployment_does_not_claim_to_be_off(tmp_path):
    running, description = _keepers(_repository(tmp_path, UT_SENSOR_RUNNING="true"))[KEEPERS[0]]
    assert running
    assert "off by default" not in description.lower() and "UT_SENSOR_RUNNING" in description


def test_every_job_says_what_it_does(tmp_path):
    jobs = [j for j in _repository(tmp_path).get_all_jobs() if not j.name.startswith("__")]
    assert [j.name for j in jobs if not (j.description or "").strip()] == []


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_readme_names_jobs_sensors_and_schedules_as_the_ui_shows_them(tmp_path, readme):
    repository = _repository(tmp_path)
    names = {
        *(j.name for j in repository.get_all_jobs() if not j.name.startswith("__")),
        *(s.name for s in repository.sensor_defs),
        *(s.name for s in repository.schedule_defs),
    }
    quoted = set(re.findall(r"`([a-z][a-z0-9_]*)`", readme))
    # A Python variable name where the UI shows another is what a user cannot find.
    assert {q for q in quoted if q.endswith(("_job", "_sensor", "_schedule"))} - names == set()
    assert names - quoted == set()

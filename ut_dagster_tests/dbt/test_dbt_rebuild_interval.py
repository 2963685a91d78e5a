"""UT_MARTS_MIN_INTERVAL_MINUTES: the marts rebuild after syncs, at most once per interval.

Evaluated with Dagster's own automation evaluator at chosen times, on the code location as
build_definitions builds it with the interval set.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from dagster_usertesting.settings import SettingsError
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings

TEST = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
TEST_SUMMARY = dg.AssetKey(["usertesting_marts", "test_summary"])


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 12, 7, hour, minute, second, tzinfo=UTC)


def _marts(defs: dg.Definitions) -> dg.AssetsDefinition:
    return next(a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) and TEST_SUMMARY in a.keys)


@pytest.fixture
def marts(tmp_path):
    """(definitions, the marts' selection) with UT_MARTS_MIN_INTERVAL_MINUTES = `minutes`."""

    def build(minutes: str) -> tuple[dg.Definitions, dg.AssetSelection]:
        settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path), "UT_MARTS_MIN_INTERVAL_MINUTES": minutes})
        defs = build_definitions(settings)
        return defs, dg.AssetSelection.assets(_marts(defs))

    return build


class Evaluator:
    def __init__(self, defs: dg.Definitions, selection: dg.AssetSelection, instance: dg.DagsterInstance):
        self.defs, self.selection, self.instance, self.cursor = defs, selection, instance, None

    def builds_at(self, when: datetime) -> bool:
        """Whether the automation sensor's tick at `when` requests a build of the marts."""
        result = dg.evaluate_automation_conditions(
            self.defs, self.instance, asset_selection=self.selection, evaluation_time=when, cursor=self.cursor
        )
        self.cursor = result.cursor
        return result.get_num_requested(TEST_SUMMARY) > 0

    def sync(self) -> None:
        self.instance.report_runless_asset_event(
            dg.AssetMaterialization(["usertesting", "tasks"], partition=TEST)
        )


def test_a_stream_of_syncs_rebuilds_the_marts_at_most_once_per_interval(marts):
    defs, selection = marts("15")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("usertesting_tests", [TEST])
        marts_tick = Evaluator(defs, selection, instance)
        assert not marts_tick.builds_at(_at(10, 0, 30))  # nothing changed

        marts_tick.sync()
        assert not marts_tick.builds_at(_at(10, 1))  # changed, but no tick since the sensor started
        assert marts_tick.builds_at(_at(10, 15, 10))  # the 10:15 tick
        marts_tick.sync()
        assert not marts_tick.builds_at(_at(10, 16))  # built after the 10:15 tick: wait for 10:30
        marts_tick.sync()
        assert not marts_tick.builds_at(_at(10, 29))
        assert marts_tick.builds_at(_at(10, 30, 5))  # both syncs in one build
        assert not marts_tick.builds_at(_at(10, 45, 5))  # a tick, but nothing changed

        # After a quiet spell the first change rebuilds at once: the marts lag only while busy.
        marts_tick.sync()
        assert marts_tick.builds_at(_at(11, 2))


def test_zero_rebuilds_the_marts_after_every_sync(marts):
    defs, selection = marts("0")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("usertesting_tests", [TEST])
        marts_tick = Evaluator(defs, selection, instance)
        assert not marts_tick.builds_at(_at(10, 0, 30))
        marts_tick.sync()
        assert marts_tick.builds_at(_at(10, 1))
        assert not marts_tick.builds_at(_at(10, 2))  # nothing new
        marts_tick.sync()
        assert marts_tick.builds_at(_at(10, 3))


@pytest.mark.parametrize("raw", ["7", "-5", "often", "90"])
def test_an_interval_that_does_not_divide_the_day_is_refused_with_the_choices(raw):
    with pytest.raises(SettingsError, match=r"UT_MARTS_MIN_INTERVAL_MINUTES .* \(5, 10, 15"):
        Settings.from_env({"UT_MARTS_MIN_INTERVAL_MINUTES": raw})


def test_every_mart_and_staging_model_is_stale_after_a_day_without_a_build(tmp_path) -> None:
    # The nightly schedule syncs every test, and every sync updates the raw tables: a model not
    # built for a day shows as failing its freshness policy in the UI (nothing keeps it current).
    specs = list(_marts(build_definitions(Settings.from_env({"UT_DATA_DIR": str(tmp_path)}))).specs)
    assert len(specs) > 10
    for spec in specs:
        policy = spec.freshness_policy
        assert policy is not None, spec.key
        assert policy.fail_window.to_timedelta() == timedelta(hours=25), spec.key
        assert policy.warn_window is None, spec.key  # quiet days are not a warning

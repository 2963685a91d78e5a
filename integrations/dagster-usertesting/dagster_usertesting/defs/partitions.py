"""One dynamic partition per UserTesting test, keyed by its testId (a UUID)."""

from collections.abc import Iterable, Sequence

from dagster import (
    DefaultSensorStatus,
    DynamicPartitionsDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from dagster_usertesting.lib.ids import TestId

test_partitions = DynamicPartitionsDefinition(name="usertesting_tests")


def add_tests(instance, test_ids: Iterable[str]) -> list[TestId]:
    """Register tests as partitions (validated first: nothing is added if any ID is bad)."""
    valid = [TestId(t) for t in test_ids]
    new = [t for t in dict.fromkeys(valid) if not instance.has_dynamic_partition(test_partitions.name, t)]
    if new:
        instance.add_dynamic_partitions(test_partitions.name, new)
    return valid


def build_register_tests_sensor(test_ids: Sequence[str]) -> SensorDefinition:
    """Registers the tests a deployment names in its configuration (the component's `tests`), with
    no API request; a test removed from the list stays registered (its rows are kept)."""
    wanted = [TestId(t) for t in dict.fromkeys(test_ids)]

    @sensor(
        name="usertesting_register_tests",
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="Registers the tests named in the UserTesting component's `tests` as partitions "
        "(no API request).",
    )
    def register_tests(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        registered = set(context.instance.get_dynamic_partitions(test_partitions.name))
        missing = [t for t in wanted if t not in registered]
        if not missing:
            return SkipReason(f"All {len(wanted)} configured tests are registered.")
        return SensorResult(dynamic_partitions_requests=[test_partitions.build_add_request(missing)])

    return register_tests

"""One dynamic partition per UserTesting test, keyed by its testId (a UUID)."""

from collections.abc import Iterable

from dagster import DynamicPartitionsDefinition

from dagster_usertesting.lib.ids import TestId

test_partitions = DynamicPartitionsDefinition(name="usertesting_tests")


def add_tests(instance, test_ids: Iterable[str]) -> list[TestId]:
    """Register tests as partitions (validated first: nothing is added if any ID is bad)."""
    valid = [TestId(t) for t in test_ids]
    new = [t for t in dict.fromkeys(valid) if not instance.has_dynamic_partition(test_partitions.name, t)]
    if new:
        instance.add_dynamic_partitions(test_partitions.name, new)
    return valid

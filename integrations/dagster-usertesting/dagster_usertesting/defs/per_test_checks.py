"""Checks about one test: partitioned by test, so each test has its own status and history.

A check of a partitioned asset is not partitioned unless its spec says so: its one status would be
whichever test synced last (a warning on test A gone when test B syncs) and its history would
zig-zag across tests. Dagster 1.13 keeps a partitioned check's results per partition
(`AssetCheckSpec(partitions_def=...)`, a preview feature), so the UI shows each test's own.

Every result names its test: the title (`test_title`, from the landed test list, titles.py) in its
metadata and its description, as partition keys are UUIDs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from dagster import AssetCheckResult, AssetCheckSpec, AssetKey, PreviewWarning

from dagster_usertesting.defs.partitions import test_partitions
from dagster_usertesting.defs.titles import TITLE_METADATA, UNKNOWN_TITLE, named_test


def per_test_check(
    name: str, asset: Sequence[str] | AssetKey, description: str, additional_deps: Sequence[AssetKey] = ()
) -> AssetCheckSpec:
    """The spec of a check evaluated on one test partition at a time."""
    with warnings.catch_warnings():
        # Dagster marks partitioned checks "preview"; their results per partition are what users need.
        warnings.filterwarnings("ignore", category=PreviewWarning)
        return AssetCheckSpec(
            name,
            asset=asset,
            description=description,
            additional_deps=additional_deps or None,
            partitions_def=test_partitions,
        )


def about_test(result: AssetCheckResult, test_id: str, title: str | None) -> AssetCheckResult:
    """`result` naming its test: the title in its metadata and its description."""
    label = named_test(test_id, title)
    description = f"{label}: {result.description}" if result.description else label
    return AssetCheckResult(
        check_name=result.check_name,
        asset_key=result.asset_key,
        passed=result.passed,
        severity=result.severity,
        metadata={TITLE_METADATA: title or UNKNOWN_TITLE, "test_id": test_id, **(result.metadata or {})},
        description=description,
    )

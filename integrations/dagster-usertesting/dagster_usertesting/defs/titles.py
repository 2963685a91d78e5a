"""Test titles for run tags: a test is registered by UUID, its title comes from the landed test list.

`usertesting/tests` lands every test the credential sees under raw/_workspaces/ (daily); these
helpers read the newest landed list, so naming a run costs no API request and no warehouse query.
Before the first refresh, or for a test the list does not hold, there is no title and no tag.

Dagster 1.13 keeps nothing but keys for dynamic partitions (`add_dynamic_partitions` and
`AddDynamicPartitionsRequest` take keys only), so a title cannot be partition metadata: it is a run
tag, shown in the runs list and on each run.

The runs list shows a run's user tags in stored order, and Dagster stores tags sorted by key: the
title's key, `test`, sorts before every other tag a sync run carries (`usertesting/…`, run_tags.py),
so the title is the first thing a run says about itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster_usertesting.lib.object_store import ObjectStore, ObjectStoreResource
from dagster_usertesting.lib.workspace_tests import landed_titles

TITLE_TAG = "test"
# Tags are for the runs list: a very long title is cut rather than flooding it.
MAX_TAG_LENGTH = 200


def known_titles(object_store: ObjectStore | ObjectStoreResource) -> dict[str, str]:
    """Title by test ID (lower-cased UUID) from the newest landed test list; {} before the first refresh."""
    store = object_store.store() if isinstance(object_store, ObjectStoreResource) else object_store
    return landed_titles(store)


def title_of(object_store: ObjectStore | ObjectStoreResource, test_id: str) -> str | None:
    """One test's title, or None when the landed test list does not name it."""
    return known_titles(object_store).get(test_id.lower())


def title_tags(titles: Mapping[str, str], test_id: str) -> dict[str, str]:
    """`{"test": title}` for a RunRequest or `execute_in_process(tags=...)`; {} if unknown."""
    title = titles.get(test_id.lower())
    if not title:
        return {}
    return {TITLE_TAG: title if len(title) <= MAX_TAG_LENGTH else title[: MAX_TAG_LENGTH - 1] + "…"}


# The metadata key that names a test on its partitions' materializations and check results.
TITLE_METADATA = "test_title"
UNKNOWN_TITLE = "(no title yet: refresh usertesting/tests)"


def named_test(test_id: str, title: str | None) -> str:
    """How a check's description names a test: “Title” (ID), or the ID alone before titles are known."""
    return f"“{title}” ({test_id})" if title else f"Test {test_id}"


def title_metadata(object_store: ObjectStore | ObjectStoreResource, test_id: str) -> dict[str, str]:
    """`{"test_title": ...}` for a materialization of the test's partition, whether or not it is known."""
    return {TITLE_METADATA: title_of(object_store, test_id) or UNKNOWN_TITLE}

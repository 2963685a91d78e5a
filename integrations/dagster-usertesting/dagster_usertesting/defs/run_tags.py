"""The tags the sync puts on runs, under one prefix, and how a reader finds them on older runs.

Every key is `usertesting/…`, which sorts after the title's key `test` (titles.py): the runs list
shows user tags in key order, so a run's title stays the first thing it says about itself.

Runs recorded before this prefix carry the former keys (`ut/…`, `ut_dagster/…`). A run can be in
flight across an upgrade: a `ut-dagster sync` whose process died must still be told for what it is,
or it keeps its pool slot until its runtime limit; a queued sensor run must still find the listing
page it was handed. So code that reads a run's tags reads them through `run_tag`.
"""

from __future__ import annotations

from collections.abc import Mapping

# A `ut-dagster sync` run: the host and pid of the process that executes it (run_recovery.py).
CLI_HOST_TAG = "usertesting/cli_host"
CLI_PID_TAG = "usertesting/cli_pid"
# Put on a run failed because its process was gone: it was cut off, which says nothing of its test.
INTERRUPTED_TAG = "usertesting/interrupted"
# The probe page a sensor-started run begins its listing from (lib/sync/listing_head.py).
LISTING_HEAD_TAG = "usertesting/listing_head"
# Why the sensor asked for the run, for whoever reads the runs list.
REASON_TAG = "usertesting/reason"

FORMER_KEYS: Mapping[str, str] = {
    CLI_HOST_TAG: "ut/cli_host",
    CLI_PID_TAG: "ut/cli_pid",
    INTERRUPTED_TAG: "ut_dagster/interrupted",
    LISTING_HEAD_TAG: "ut_dagster/listing_head",
    REASON_TAG: "ut_dagster/reason",
}


def run_tag(tags: Mapping[str, str], key: str) -> str | None:
    """The value of tag `key` on a run, under its key or, on a run recorded earlier, its former key."""
    if key in tags:
        return tags[key]
    former = FORMER_KEYS.get(key)
    return tags.get(former) if former else None

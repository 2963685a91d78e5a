"""The code location the UI lists `ut-dagster`'s runs under, as if the UI had launched them.

The CLI runs its jobs in its own process (`execute_in_process`): it blocks, draws progress, exits
non-zero on a failure, and its tests run against an in-process sandbox. Dagster records such a
run without a code location, and the UI finds a job's runs by code location:
- the job's Runs tab and its partition views (run and step durations by test) ask for runs of the
  job name with the hidden tag `.dagster/repository` = `<repository>@<location>`
  (dagster-ui `pipelines/PipelineRunsFeedRoot.tsx`, `partitions/usePartitionStepQuery.tsx`);
- the Overview timeline drops every run without a `repositoryOrigin`
  (`runs/useRunsForTimeline.tsx`).
So a CLI sync was in the global runs list only, never in the job's views (dagster-io/dagster#17707,
open: `dagster job execute` has the same gap).

A run launched from the UI, a sensor or a schedule is created with its job's remote origin, from
which Dagster derives that tag. No public API lets an in-process run have one, so this module uses
Dagster internals, in one place: while `runs_in_code_location` is active, runs the instance creates
get the origin of the same job in code location `ut_dagster` (workspace.yaml, pyproject.toml), by
location and repository name, which is all the UI, re-execution and run status sensors read.
ut_dagster_tests/ui/test_job_views.py asks the UI's own queries whether it still works.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import DagsterInstance

# As workspace.yaml and pyproject.toml ([tool.dg.project]) name the code location; a
# Definitions object loads as the repository "__repository__".
CODE_LOCATION_NAME = "ut_dagster"
REPOSITORY_NAME = "__repository__"
_CREATE = "create_run_for_job"

log = logging.getLogger(__name__)


def job_origin(job_name: str) -> Any | None:
    """The remote origin the UI's launch of `job_name` would give its run; None if Dagster's
    internals moved (a run without it still runs and is in the global runs list: a warning, not a
    failed sync)."""
    try:
        from dagster._core.remote_origin import (
            RegisteredCodeLocationOrigin,
            RemoteJobOrigin,
            RemoteRepositoryOrigin,
        )

        location = RegisteredCodeLocationOrigin(CODE_LOCATION_NAME)
        return RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY_NAME), job_name)
    except Exception as exc:  # ImportError or a changed signature after a Dagster upgrade
        log.warning("This run will not show in its job's views in the UI (Dagster changed: %s)", exc)
        return None


@contextmanager
def runs_in_code_location(instance: DagsterInstance) -> Iterator[DagsterInstance]:
    """`instance`, whose runs created meanwhile (by `execute_in_process`) belong to the code location.

    `execute_in_process` creates its run with `instance.create_run_for_job`: this wraps that method
    on this one object, for the duration only.
    """
    previous = vars(instance).get(_CREATE)
    create = getattr(instance, _CREATE)

    def create_in_code_location(job_def: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("remote_job_origin") is None:
            kwargs["remote_job_origin"] = job_origin(job_def.name)
        return create(job_def, *args, **kwargs)

    setattr(instance, _CREATE, create_in_code_location)
    try:
        yield instance
    finally:
        if previous is None:
            delattr(instance, _CREATE)
        else:
            setattr(instance, _CREATE, previous)

"""How each step of the sync becomes its asset: the pool it queues in, and the `execute` it runs through.

An asset module declares its step with `@sync_step(asset, ...)` (or `multi_asset`): the decorator's
arguments and the step's body, not yet an asset. `StepAsset.build(pool, execute)` makes the asset.
`UserTestingSyncComponent` passes its `pool` attribute and its `execute` method, which a subclass
may override to wrap every step (timing, notifications, extra logs) without copying any of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition

# Every asset that calls the API joins this pool; its limit caps concurrent API steps across runs
# (the shared rate limiter caps the requests themselves).
API_POOL = "usertesting_api"


class SyncStep:
    """One step of the sync, about to run: `name` is its asset's (raw_sessions, session_tables, ...),
    `partition_key` the test it syncs (None for the unpartitioned test list)."""

    def __init__(self, name: str, partition_key: str | None, body: Callable[[], Iterator[Any]]) -> None:
        self.name, self.partition_key = name, partition_key
        self._body: Callable[[], Iterator[Any]] | None = body

    def run(self) -> Iterator[Any]:
        """Do the step's work, yielding its outputs and check results: Dagster must receive all of
        them. Once only: a step run twice would ask the API twice for what it already fetched."""
        if self._body is None:
            raise RuntimeError(
                f"Step {self.name} of test {self.partition_key} was run twice by an execute(): run it once "
                "and yield its events (a second run would spend the API budget again)."
            )
        body, self._body = self._body, None
        return body()

    def __repr__(self) -> str:
        return f"SyncStep({self.name!r}, {self.partition_key!r})"


ExecuteStep = Callable[[AssetExecutionContext, SyncStep], Iterator[Any]]


def run_step(context: AssetExecutionContext, step: SyncStep) -> Iterator[Any]:
    """The default `execute`: the step as it is."""
    yield from step.run()


@dataclass(frozen=True)
class StepAsset:
    """A step's asset before its pool and execute are chosen."""

    decorator: Callable[..., Callable[[Callable[..., Any]], AssetsDefinition]]  # dagster.asset or multi_asset
    body: Callable[..., Iterator[Any]]
    arguments: Mapping[str, Any]

    def build(self, pool: str = API_POOL, execute: ExecuteStep = run_step) -> AssetsDefinition:
        body, name = self.body, self.name

        # wraps: Dagster reads the step's config and resources from the body's signature.
        @functools.wraps(body)
        def compute(context: AssetExecutionContext, **params: Any) -> Iterator[Any]:
            partition = context.partition_key if context.has_partition_key else None
            yield from execute(context, SyncStep(name, partition, functools.partial(body, context, **params)))

        return self.decorator(pool=pool, **self.arguments)(compute)

    @property
    def name(self) -> str:
        """The asset's name (a multi-asset's own): raw_sessions, session_tables, tests, ..."""
        return self.arguments.get("name", self.body.__name__)

    @cached_property
    def default(self) -> AssetsDefinition:
        """The asset in the default pool, run as it is: its keys and op name are every build's."""
        return self.build()

    @property
    def keys(self) -> list[AssetKey]:
        return list(self.default.keys)

    @property
    def op_name(self) -> str:
        return self.default.op.name


def sync_step(
    decorator: Callable[..., Any], **arguments: Any
) -> Callable[[Callable[..., Iterator[Any]]], StepAsset]:
    """Declare a step: `@sync_step(asset, key_prefix=..., ...)` over its body, as `@asset(...)` would be."""

    def declare(body: Callable[..., Iterator[Any]]) -> StepAsset:
        return StepAsset(decorator, body, arguments)

    return declare


def keys_of(steps: tuple[StepAsset, ...] | list[StepAsset]) -> list[AssetKey]:
    return [key for step in steps for key in step.keys]

"""UserTesting research results as Dagster assets.

- `UserTestingSyncComponent`: the whole sync, configured in a `dg` project's defs.yaml; a subclass
  may override `execute(context, step: SyncStep)` to wrap every step.
- `UserTestingResource`: the API, with its credential, shared rate limit and backoff.
- `UserTestingTranslator`: how each table appears as an asset; subclass it.
- `dagster_usertesting.lib`: the sync engine (listing, details, transcripts, videos), normalizers,
  warehouse writers and object stores, with no Dagster definitions.
- `dagster_usertesting.testing`: a local sandbox of the API, for tests and demos.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster_usertesting.component import UserTestingSyncComponent, UserTestingTranslation
    from dagster_usertesting.defs.assets.factory import SyncStep
    from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
    from dagster_usertesting.translator import UserTestingTableProps, UserTestingTranslator

# Loaded on first use: a process that needs only the engine or the sandbox (`import
# dagster_usertesting.lib...`) does not load every Dagster definition of the sync.
_EXPORTS = {
    "SyncStep": "dagster_usertesting.defs.assets.factory",
    "UserTestingSyncComponent": "dagster_usertesting.component",
    "UserTestingTranslation": "dagster_usertesting.component",
    "UserTestingResource": "dagster_usertesting.lib.usertesting_api.resource",
    "UserTestingTableProps": "dagster_usertesting.translator",
    "UserTestingTranslator": "dagster_usertesting.translator",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    # dg's component registry lists a plugin module's members by name: the component must be one.
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "SyncStep",
    "UserTestingResource",
    "UserTestingSyncComponent",
    "UserTestingTableProps",
    "UserTestingTranslation",
    "UserTestingTranslator",
]

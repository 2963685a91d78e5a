"""UserTesting research results as Dagster assets.

- `UserTestingResource`: the API, with its credential, shared rate limit and backoff.
- `dagster_usertesting.lib`: the sync engine (listing, details, transcripts, videos), normalizers,
  warehouse writers and object stores, with no Dagster definitions.
- `dagster_usertesting.testing`: a local sandbox of the API, for tests and demos.
"""

from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource

__all__ = ["UserTestingResource"]

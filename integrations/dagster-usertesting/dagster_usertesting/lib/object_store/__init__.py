"""Object store for the raw landing area and archived videos: a local folder, or S3 in production.

`S3ObjectStore` lives in `dagster_usertesting.lib.object_store.s3`, imported only when an s3:// URL is used
(boto3 / dagster-aws cost seconds to import).
"""

from dagster_usertesting.lib.object_store.base import (
    InvalidKeyError,
    ObjectNotFoundError,
    ObjectStore,
    StoredObject,
    validate_key,
)
from dagster_usertesting.lib.object_store.factory import object_store_from_url
from dagster_usertesting.lib.object_store.local import LocalObjectStore
from dagster_usertesting.lib.object_store.resource import ObjectStoreResource

__all__ = [
    "InvalidKeyError",
    "LocalObjectStore",
    "ObjectNotFoundError",
    "ObjectStore",
    "ObjectStoreResource",
    "StoredObject",
    "object_store_from_url",
    "validate_key",
]

"""Object store for the raw landing area and archived videos: a local folder, or S3 in production.

`S3ObjectStore` lives in `ut_dagster.lib.object_store.s3`, imported only when an s3:// URL is used
(boto3 / dagster-aws cost seconds to import).
"""

from ut_dagster.lib.object_store.base import (
    InvalidKeyError,
    ObjectNotFoundError,
    ObjectStore,
    StoredObject,
    validate_key,
)
from ut_dagster.lib.object_store.factory import object_store_from_url
from ut_dagster.lib.object_store.local import LocalObjectStore
from ut_dagster.lib.object_store.resource import ObjectStoreResource

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

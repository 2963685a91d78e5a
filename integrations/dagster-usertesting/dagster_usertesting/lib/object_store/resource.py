"""Dagster resource that hands assets the configured object store."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from dagster_usertesting.lib.object_store.base import ObjectStore
from dagster_usertesting.lib.object_store.factory import object_store_from_url


# AWS credentials are never configured here: boto3's standard chain (AWS_* environment variables,
# shared config/profile, instance or task role) supplies them.
class ObjectStoreResource(ConfigurableResource):
    """Where the raw API responses and archived session videos are kept: a folder or an S3 prefix."""

    url: str = Field(description="Folder path, or s3://bucket/prefix for S3.")
    region_name: str | None = Field(default=None, description="S3 region (default: from the AWS config).")
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint, e.g. MinIO or a local moto server."
    )

    # One store (and boto3 client, which is thread-safe) per resource instance.
    _store: ObjectStore | None = PrivateAttr(default=None)

    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = object_store_from_url(self.url, s3_client_factory=self.s3_client)
        return self._store

    def s3_client(self) -> Any:
        """A boto3 S3 client for this resource's region and endpoint (used for s3:// URLs)."""
        from dagster_usertesting.lib.object_store.s3 import make_s3_client

        return make_s3_client(region_name=self.region_name, endpoint_url=self.endpoint_url)

"""The one bucket recipe every ownstats bucket follows.

Private (all public access blocked), encrypted at rest, TLS-only, and either retained
(default: analytics data outlives a stack) or destroyed with the stack in dev mode.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    dev: bool,
    access_logs: s3.IBucket | None,
    access_logs_prefix: str | None = None,
    **overrides: Any,
) -> s3.Bucket:
    """A private, SSE-S3, enforce-SSL bucket; ``access_logs`` receives its S3 access logs.

    SSE-S3 rather than SSE-KMS: CloudFront standard logging cannot write to SSE-KMS
    buckets, and for the lake it saves a KMS request per Parquet object Athena reads
    while still encrypting every object at rest.
    """
    props: dict[str, Any] = {
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "enforce_ssl": True,
        "versioned": False,
        "removal_policy": RemovalPolicy.DESTROY if dev else RemovalPolicy.RETAIN,
        "auto_delete_objects": dev,
    }
    if access_logs is not None:
        props["server_access_logs_bucket"] = access_logs
        props["server_access_logs_prefix"] = access_logs_prefix or f"s3-access/{construct_id}/"
    props.update(overrides)
    return s3.Bucket(scope, construct_id, **props)

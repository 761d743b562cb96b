"""The log archive: raw CloudFront standard logs and S3 server access logs.

This is the raw truth behind every number. Those logs hold viewer IP addresses, so the
bucket expires everything after ``retention_days`` (default 30). CloudFront standard
(legacy) logging writes with bucket ACLs, hence ``BUCKET_OWNER_PREFERRED`` ownership
and SSE-S3 (it cannot use SSE-KMS).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.buckets import secure_bucket
from cdk.nag import acknowledge

#: key prefix of the CloudFront standard logs inside the archive bucket
CLOUDFRONT_LOG_PREFIX = "cloudfront/"


class LogArchive(Construct):
    """The archive bucket; ``bucket`` is the target of every access log in the stack."""

    def __init__(
        self, scope: Construct, construct_id: str, *, retention_days: int, dev: bool
    ) -> None:
        super().__init__(scope, construct_id)
        self.cloudfront_prefix = CLOUDFRONT_LOG_PREFIX
        self.bucket = secure_bucket(
            self,
            "Bucket",
            dev=dev,
            access_logs=None,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-raw-logs",
                    expiration=Duration.days(retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self.bucket,
            {
                "S1": "This is the access-log bucket itself; logging it into "
                "itself would loop and another bucket would only move the problem. (In the "
                "full stack cdk-nag already accepts it as the other buckets' log target.)",
            },
        )

"""The Kinesis Data Stream between CloudFront real-time logs and the processor.

Encrypted at rest with the AWS-managed ``aws/kinesis`` key: no monthly key fee (a
customer-managed key costs $1/month, $3/month once rotated twice), and no key grants
to keep in step — CloudFront's real-time log role and the processor need only their
Kinesis permissions. docs/DEPLOY.md (*Cost*) explains why this does not weaken the
privacy story. One shard (1 MB/s, 1000 records/s in) carries roughly 80 million page
views a day and costs about $11/month; ``-c shards=on-demand`` trades that fixed cost
for per-GB pricing.

The stream goes with the stack (``RemovalPolicy.DESTROY``): it holds at most 24 h of
raw log lines that the archive bucket keeps anyway, and a retained stream would keep
billing its shard-hours after ``cdk destroy``.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct


class BeaconStream(Construct):
    """Exposes ``stream``."""

    def __init__(self, scope: Construct, construct_id: str, *, shards: int | None) -> None:
        super().__init__(scope, construct_id)
        if shards is None:
            mode = {"stream_mode": kinesis.StreamMode.ON_DEMAND}
        else:
            mode = {"stream_mode": kinesis.StreamMode.PROVISIONED, "shard_count": shards}
        self.stream = kinesis.Stream(
            self,
            "Stream",
            encryption=kinesis.StreamEncryption.MANAGED,
            # 24 h (the minimum and the cheapest): enough for the processor to catch up
            # after an outage; the archive bucket keeps the raw truth for longer.
            retention_period=Duration.hours(24),
            removal_policy=RemovalPolicy.DESTROY,
            **mode,
        )

"""The Kinesis Data Stream between CloudFront real-time logs and the processor.

Encrypted with a customer-managed KMS key (rotation on): CloudFront's real-time log
role gets ``kms:GenerateDataKey`` on it, the processor ``kms:Decrypt``. One shard
(1 MB/s, 1000 records/s in) carries roughly 80 million page views a day and costs
about $11/month; ``-c shards=on-demand`` trades that fixed cost for per-GB pricing.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk.nag import acknowledge


class BeaconStream(Construct):
    """Exposes ``stream`` and its ``key``."""

    def __init__(self, scope: Construct, construct_id: str, *, shards: int | None) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="ownstats: encrypts the real-time log stream",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # the stream holds at most 24 h of data
        )
        if shards is None:
            mode = {"stream_mode": kinesis.StreamMode.ON_DEMAND}
        else:
            mode = {"stream_mode": kinesis.StreamMode.PROVISIONED, "shard_count": shards}
        self.stream = kinesis.Stream(
            self,
            "Stream",
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            # 24 h (the minimum and the cheapest): enough for the processor to catch up
            # after an outage; the archive bucket keeps the raw truth for longer.
            retention_period=Duration.hours(24),
            **mode,
        )
        acknowledge(
            self.stream,
            {
                "KDS3": "A customer-managed key on purpose: the "
                "stream carries raw viewer IPs, and only a key of our own lets the key policy "
                "and the two roles (CloudFront writer, processor reader) be the whole list of "
                "who can read it. Kinesis caches data keys, so KMS calls stay negligible.",
            },
        )

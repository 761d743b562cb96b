"""The stream processor Lambda: Kinesis batches in, accepted events out to Firehose.

Sizing, and why:

- arm64, 512 MB: the work is CPU-bound parsing (user agents via the native ua-parser
  regex engine, URL decoding, hashing); Lambda scales CPU with memory, and 512 MB
  keeps a 500-record batch well under a second while the GB-s bill stays tiny
  (see docs/DEPLOY.md). Graviton is ~20 % cheaper per GB-s than x86.
- timeout 60 s: a batch is parsed in well under a second; the rest is room for
  Firehose PutRecordBatch retries with backoff before failures are reported back.
- batch size 500 = the PutRecordBatch limit, so one batch is one Firehose call.
- batching window 10 s: at low traffic up to 10 s of beacons share one invocation
  instead of one invocation per beacon; still far below Firehose's 60 s buffer, so
  it does not change when data becomes queryable.
- ReportBatchItemFailures + bisect + 10 retries + 6 h maximum record age: a transient
  failure retries only the failed records; a poison record is isolated by bisection
  and, after the retries, sent (as metadata) to the encrypted on-failure SQS queue
  instead of blocking its shard for the stream's 24 h retention.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.functions import PYTHON_RUNTIME, execution_role
from cdk.nag import acknowledge
from lake_compactor import METRICS_NAMESPACE as SHARED_NAMESPACE
from stream_processor.masks import MASK_PATHS_ENV
from stream_processor.reasons import REASON_METRICS_ENV

HANDLER = "stream_processor.handler.handler"
METRICS_NAMESPACE = SHARED_NAMESPACE  # the compactor emits into the same one


class Processor(Construct):
    """Exposes ``function``, ``failure_queue``, ``service_name`` (the metrics dimension)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        asset_dir: Path,
        stream: kinesis.IStream,
        domains: tuple[str, ...],
        delivery_stream_name: str,
        salt_prefix: str,
        service_name: str,
        reason_metrics: bool,
        mask_paths: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.service_name = service_name
        self.role, self.log_group = execution_role(
            self, "Function", description="ownstats: the stream processor"
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="ownstats: CloudFront real-time log records -> analytics events",
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(asset_dir)),
            # the bot/device lists compile to Rust matchers: ~240 MB built, ~580 MB after
            # 60k distinct user agents (bench/useragent_worst_case.py); 1 GB leaves room
            memory_size=1024,
            timeout=Duration.seconds(60),
            role=self.role,
            log_group=self.log_group,
            environment={
                "OWNSTATS_DOMAINS": ",".join(domains),
                "OWNSTATS_FIREHOSE_STREAM": delivery_stream_name,
                "OWNSTATS_SALT_PREFIX": salt_prefix,
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                REASON_METRICS_ENV: "1" if reason_metrics else "0",
                **({MASK_PATHS_ENV: ",".join(mask_paths)} if mask_paths else {}),
            },
        )

        self.failure_queue = sqs.Queue(
            self,
            "FailureQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),  # the maximum: time to notice and replay
        )
        acknowledge(
            self.failure_queue,
            {
                "SQS3": "This queue is itself the on-failure destination of the "
                "Kinesis event source (it holds batch metadata for replay) and of the lake "
                "compactor's retried invocations; a DLQ of a DLQ has nothing to catch.",
            },
        )

        self.function.add_event_source(
            sources.KinesisEventSource(
                stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=500,
                max_batching_window=Duration.seconds(10),
                bisect_batch_on_error=True,
                retry_attempts=10,
                max_record_age=Duration.hours(6),
                report_batch_item_failures=True,
                parallelization_factor=1,
                on_failure=sources.SqsDlq(self.failure_queue),
            )
        )

    def acknowledge_salt_path(self, parameters_arn_pattern: str) -> None:
        """The salt parameters are created per day, so the grant names their path."""
        acknowledge(
            self.role,
            {
                f"IAM5[Resource::{parameters_arn_pattern}]": "One "
                "SSM parameter per UTC day is created under this path at run time "
                "(ssm:GetParameter/PutParameter only; no list, no delete).",
            },
        )

"""The stream processor Lambda: Kinesis batches in, accepted events out to Firehose.

Sizing, and why:

- arm64, 1,024 MB: the work is CPU-bound parsing (user agents through the bot and
  device list matchers, URL decoding, hashing), and the matchers take ~240–580 MB; Lambda
  scales CPU with memory (see docs/DEPLOY.md). Graviton is ~20 % cheaper per GB-s than
  x86.
- timeout 60 s: a batch is parsed in well under a second; the rest is room for
  Firehose PutRecordBatch retries with backoff before failures are reported back.
- batch size 500 = the PutRecordBatch limit, so one batch is one Firehose call.
- batching window 10 s: at low traffic up to 10 s of beacons share one invocation
  instead of one invocation per beacon; still far below Firehose's 60 s buffer, so
  it does not change when data becomes queryable.
- ReportBatchItemFailures + bisect + retries until a record is 12 h old: a failure
  retries only the failed records. Only the environment can fail a batch now (a
  record's own trouble is a counted drop, never a failure: stream_processor.pipeline),
  so retries wait out an outage: a Firehose or SSM outage of an hour, even of 11, loses
  nothing (10 retries used to last about a minute). Past 12 h the records' position goes
  to the encrypted on-failure SQS queue, leaving 12 h of the stream's 24 h retention to
  re-read them (docs/DEPLOY.md, *The failure queue*).
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
from lake_compactor.policy import PROCESSOR_MAX_RECORD_AGE_S
from stream_processor.masks import MASK_PATHS_ENV
from stream_processor.reasons import REASON_METRICS_ENV

HANDLER = "stream_processor.handler.handler"
#: half the stream's retention (cdk/stream.py, 24 h): the other half is for a replay;
#: the compactor closes a day only after it (lake_compactor.policy)
MAX_RECORD_AGE_H = PROCESSOR_MAX_RECORD_AGE_S // 3600
METRICS_NAMESPACE = SHARED_NAMESPACE  # the compactor emits into the same one


def failure_queue(scope: Construct) -> sqs.Queue:
    """The stack's on-failure queue: the processor's Kinesis batches, and the compactor's
    and repair's invocations that failed their retries."""
    queue = sqs.Queue(
        scope,
        "FailureQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),  # the maximum: time to notice and replay
    )
    acknowledge(
        queue,
        {
            "SQS3": "This queue is itself the on-failure destination of the "
            "Kinesis event source (it holds batch metadata for replay) and of the lake "
            "compactor's and the repair's retried invocations; a DLQ of a DLQ has "
            "nothing to catch.",
        },
    )
    return queue


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

        self.failure_queue = failure_queue(self)

        self.function.add_event_source(
            sources.KinesisEventSource(
                stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=500,
                max_batching_window=Duration.seconds(10),
                bisect_batch_on_error=True,
                # no retry_attempts: CloudFormation's default, -1, retries until the
                # record age below (a count would end sooner: 10,000 × ~3 s ≈ 8 h)
                max_record_age=Duration.hours(MAX_RECORD_AGE_H),
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

"""Repair from the log archive: an hourly function adds what the stream path lost.

The standard logs CloudFront writes to the archive bucket hold every beacon request
with the same ``x-edge-request-id`` as its real-time record. Every hour the repair
function (``lake_compactor.repair_handler``) reads the logs of the hours that ended 3 to
6 hours ago, runs them through the processor's own steps, and writes the events the
lake lacks into their day's partition (the protocol: ``lake_compactor/repair.py``,
docs/DEPLOY.md "Repair"). ``ownstats repair --stack`` invokes the same function for
whole days, a dry run unless asked.

Sizing: arm64, 1,769 MB (one vCPU: the processor's steps are single-threaded Python),
2 GiB of ``/tmp`` (an hour's logs and the day's lake objects), 15 minutes (a day of
1 M page views a month takes seconds; see docs/BENCHMARKS.md). Two retries, then the
stack's failure queue, as the compactor.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Size, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.functions import PYTHON_RUNTIME, execution_role
from cdk.nag import acknowledge
from lake_compactor import BUCKET_ENV, PREFIX_ENV, SERVICE_ENV
from stream_processor.masks import MASK_PATHS_ENV

HANDLER = "lake_compactor.repair_handler.handler"
SCHEDULE = Duration.hours(1)
#: the environment lake_compactor.repair_handler reads (kept in step by a test)
ARCHIVE_BUCKET_ENV = "OWNSTATS_ARCHIVE_BUCKET"
ARCHIVE_PREFIX_ENV = "OWNSTATS_ARCHIVE_PREFIX"
DOMAINS_ENV = "OWNSTATS_DOMAINS"
SALT_PREFIX_ENV = "OWNSTATS_SALT_PREFIX"
INPUT_ENV = "OWNSTATS_INPUT"
DISTRIBUTION_ENV = "OWNSTATS_DISTRIBUTION_ID"
#: with no stream (-c realtime=false) the repair is the input: it runs this often
ARCHIVE_SCHEDULE = Duration.minutes(15)


class ArchiveRepair(Construct):
    """Exposes ``function``, ``role`` and ``schedule``."""

    def acknowledge_salt_path(self, parameters_arn_pattern: str) -> None:
        """The salt parameters are created per day, so the grant names their path."""
        acknowledge(
            self.role,
            {
                f"IAM5[Resource::{parameters_arn_pattern}]": "The repair reads (or, after "
                "it expired, creates) the SSM parameter of a day's salt under this path, "
                "as the processor does (ssm:GetParameter/PutParameter only).",
            },
        )

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        asset_dir: Path,
        archive_bucket: s3.IBucket,
        archive_prefix: str,
        distribution_id: str,
        lake_bucket: s3.IBucket,
        events_prefix: str,
        domains: tuple[str, ...],
        salt_prefix: str,
        mask_paths: tuple[str, ...],
        failure_queue: sqs.IQueue,
        service_name: str = "ownstats",
        only_input: bool = False,
    ) -> None:
        """``only_input``: no real-time path (``-c realtime=false``), so the repair runs
        every 15 minutes and reads the current hour too (lake_compactor.repair_handler)."""
        super().__init__(scope, construct_id)
        self.role, self.log_group = execution_role(
            self, "Function", description="ownstats: repairs the lake from the log archive"
        )
        environment = {
            ARCHIVE_BUCKET_ENV: archive_bucket.bucket_name,
            ARCHIVE_PREFIX_ENV: archive_prefix,
            DISTRIBUTION_ENV: distribution_id,
            BUCKET_ENV: lake_bucket.bucket_name,
            PREFIX_ENV: events_prefix,
            DOMAINS_ENV: ",".join(domains),
            SALT_PREFIX_ENV: salt_prefix,
            SERVICE_ENV: service_name,
            INPUT_ENV: "archive" if only_input else "stream",
        }
        if mask_paths:
            environment[MASK_PATHS_ENV] = ",".join(mask_paths)
        self.function = lambda_.Function(
            self,
            "Function",
            description="ownstats: adds the events the archive's standard logs hold and the "
            "lake lacks",
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(asset_dir)),
            memory_size=1769,
            ephemeral_storage_size=Size.gibibytes(2),
            timeout=Duration.minutes(15),
            role=self.role,
            log_group=self.log_group,
            environment=environment,
            retry_attempts=2,
            on_failure=destinations.SqsDestination(failure_queue),
        )
        # read the archive's standard logs; read the lake's events and add repairs there
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[archive_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{archive_prefix}*"]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[archive_bucket.arn_for_objects(f"{archive_prefix}*")],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[lake_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{events_prefix}*"]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[lake_bucket.arn_for_objects(f"{events_prefix}*")],
            )
        )
        stack = Stack.of(self)
        archive_id = stack.get_logical_id(archive_bucket.node.default_child)  # type: ignore[arg-type]
        lake_id = stack.get_logical_id(lake_bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self.role,
            {
                f"IAM5[Resource::<{archive_id}.Arn>/{archive_prefix}*]": "The repair reads "
                "CloudFront's standard log files, whose names CloudFront generates per "
                "hour and edge; read only, under cloudfront/ only.",
                f"IAM5[Resource::<{lake_id}.Arn>/{events_prefix}*]": "The repair reads a "
                "day's event objects (keys generated per delivery and compaction) and adds "
                "one repair object per hour or day under events/; no delete.",
            },
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="ownstats: read the log archive into the lake every 15 minutes"
            if only_input
            else "ownstats: repair the lake from the log archive every hour",
            schedule=events.Schedule.rate(ARCHIVE_SCHEDULE if only_input else SCHEDULE),
            targets=[targets.LambdaFunction(self.function)],
        )

"""Hourly compaction of the lake: an EventBridge schedule calls the compactor Lambda.

Firehose writes one Parquet object per partition per buffer flush (60 s), so a day
collects up to 1,440 small objects; the compactor (``lake_compactor``) rewrites them
into one sorted, zstd-compressed file per hour while the day is open and into one
file per day once it is closed, and deletes the small files only after a grace
period (the protocol: ``lake_compactor/run.py``, docs/DEPLOY.md "Compaction").

Sizing, and why:

- arm64, 3,008 MB: DuckDB sorts a day in memory up to ~2 GB and spills the rest to
  ``/tmp``; Lambda gives ~1.7 vCPUs at this size, which DuckDB uses for the sort and
  the zstd compression. An hour of a small site takes well under a second.
- 15 minutes timeout (the maximum): the closing merge of a day of 100 M page views a
  month is the longest job (see docs/DEPLOY.md, scaling); a run stops planning new
  partitions with 4 minutes left, and the next run continues.
- 4 GiB of ``/tmp``: the inputs, the output and DuckDB's spill of the largest day.
- 2 retries, then the error goes to the stack's failure queue, whose alarm fires:
  retrying is always safe (the protocol is idempotent).
- No reserved concurrency (a new account's limit of 10 could not spare one): two runs
  that overlap can only store some events twice until the day is closed, which the
  views deduplicate; nothing is deleted without its verified copy.
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
from lake_compactor import (
    BUCKET_ENV,
    ERRORS_LOOKBACK_S,
    ERRORS_PREFIX,
    PREFIX_ENV,
    ROLLUPS_PREFIX,
    SERVICE_ENV,
    TIME_ZONE_ENV,
)
from lake_compactor.validate import QUARANTINE_PREFIX

HANDLER = "lake_compactor.handler.handler"
SCHEDULE = Duration.hours(1)
# each run counts the errors/ objects of the last two schedules (lake_compactor)
assert 2 * SCHEDULE.to_seconds() == ERRORS_LOOKBACK_S
#: the minute of every hour the compactor runs: just after an hour ends (Firehose has
#: delivered it within ~2 minutes), so a site too big for the dashboard's function to
#: load shows today as of an hour that ended minutes ago, not up to an hour later
RUN_MINUTE = 5


class Compaction(Construct):
    """Exposes ``function``, ``role`` and ``schedule`` (the EventBridge rule)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        asset_dir: Path,
        bucket: s3.IBucket,
        events_prefix: str,
        failure_queue: sqs.IQueue,
        service_name: str = "ownstats",
        time_zone: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.role, self.log_group = execution_role(
            self, "Function", description="ownstats: compacts the lake's small Parquet files"
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="ownstats: rewrites small Parquet files of the lake into large ones",
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(asset_dir)),
            memory_size=3008,
            ephemeral_storage_size=Size.gibibytes(4),
            timeout=Duration.minutes(15),
            role=self.role,
            log_group=self.log_group,
            environment={
                BUCKET_ENV: bucket.bucket_name,
                PREFIX_ENV: events_prefix,
                # its ObjectsQuarantined metric carries the processor's service dimension,
                # so the stack's monitoring finds it next to the processor's metrics
                SERVICE_ENV: service_name,
                # the sites' time zones: their local days are rolled up too
                **({TIME_ZONE_ENV: time_zone} if time_zone else {}),
            },
            retry_attempts=2,
            on_failure=destinations.SqsDestination(failure_queue),
        )

        # list only the events/ prefix (and errors/, to count what Firehose put there);
        # read, write and delete only objects under events/
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [
                            f"{events_prefix}*",
                            f"{ERRORS_PREFIX}*",
                            f"{ROLLUPS_PREFIX}*",
                        ]
                    }
                },
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                ],
                resources=[
                    bucket.arn_for_objects(f"{events_prefix}*"),
                    # each view's month objects and their index (lake_compactor.roll_up)
                    bucket.arn_for_objects(f"{ROLLUPS_PREFIX}*"),
                ],
            )
        )  # fmt: skip
        # an object that is no events file is moved out of the table (CopyObject + delete)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{QUARANTINE_PREFIX}{events_prefix}*")],
            )
        )
        stack = Stack.of(self)
        bucket_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self.role,
            {
                f"IAM5[Resource::<{bucket_id}.Arn>/{events_prefix}*]": "The compactor reads "
                "Firehose's objects, whose keys are generated per delivery, and writes and "
                "deletes its own under events/ only (no other prefix of the lake bucket).",
                f"IAM5[Resource::<{bucket_id}.Arn>/{QUARANTINE_PREFIX}{events_prefix}*]": "A "
                "damaged or foreign object found under events/ is moved here, keeping its "
                "generated key; the compactor can only write there, not read or list.",
                f"IAM5[Resource::<{bucket_id}.Arn>/{ROLLUPS_PREFIX}*]": "The compactor "
                "writes one rollup object per view and month (keys named by view and "
                "month), one visits object per day and their index under rollups/, and "
                "replaces them as days change.",
            },
        )

        self.schedule = events.Rule(
            self,
            "Schedule",
            description="ownstats: compact the lake every hour",
            schedule=events.Schedule.cron(minute=str(RUN_MINUTE)),
            targets=[targets.LambdaFunction(self.function)],
        )

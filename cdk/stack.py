"""The ownstats stack: composes the constructs and does the grants, nothing else.

Environment-agnostic on purpose (no account/region lookups), so ``cdk synth`` runs
offline without credentials; the region comes from the deploying profile.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import AspectPriority, Aspects, CfnOutput, Stack
from constructs import Construct

from cdk.analytics import RESULTS_PREFIX, Analytics
from cdk.archive import LogArchive
from cdk.collector import TRACKER_JS_PATH, Collector
from cdk.compaction import Compaction
from cdk.config import OwnstatsConfig
from cdk.dashboard import HostedDashboard
from cdk.iam import NoWildcardActions
from cdk.lake import ACCESS_LOGS_TABLE, EVENTS_PREFIX, EVENTS_TABLE, Lake
from cdk.monitoring import Monitoring
from cdk.nag import acknowledge_cdk_internals
from cdk.processor import METRICS_NAMESPACE, Processor, failure_queue
from cdk.repair import ArchiveRepair
from cdk.salts import SaltStore
from cdk.stream import BeaconStream

#: the CloudFormation output names the local CLI (`ownstats query --athena`) reads
OUTPUT_NAMES = (
    "TrackerScriptTag",
    "DistributionDomainName",
    "AthenaWorkGroup",
    "GlueDatabase",
    "ResultsBucket",
    "LakeBucket",
    "DeliveryStreamName",
    "RepairFunction",
)


class OwnstatsStack(Stack):
    """Everything ownstats deploys for the sites in ``config.domains``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: OwnstatsConfig, asset_dir: Path,
        compactor_asset_dir: Path, dashboard_asset_dir: Path | None = None,
        repair_asset_dir: Path | None = None, **kwargs: object,
    ) -> None:  # fmt: skip
        super().__init__(
            scope,
            construct_id,
            description=f"ownstats: privacy-first web analytics for {', '.join(config.domains)}",
            **kwargs,  # type: ignore[arg-type]
        )
        namespace = config.stack_name

        archive = LogArchive(self, "Archive", retention_days=config.retention_days,
                             dev=config.dev)  # fmt: skip
        # -c realtime=false: no stream, no real-time log, no processor; the repair reads
        # the archive every 15 minutes and is the only input
        stream = BeaconStream(self, "Stream", shards=config.shards) if config.realtime else None
        collector = Collector(
            self,
            "Collector",
            stream=stream.stream if stream else None,
            log_bucket=archive.bucket,
            log_prefix=archive.cloudfront_prefix,
            tracker_js=config.tracker_js,
            tracker_gif=config.tracker_gif,
            tracker_domain=config.tracker_domain,
            certificate_arn=config.certificate_arn,
            dev=config.dev,
        )
        lake = Lake(
            self,
            "Lake",
            namespace=namespace,
            log_bucket=archive.bucket,
            archive_bucket=archive.bucket,
            archive_prefix=archive.cloudfront_prefix,
            dev=config.dev,
            retention_days=config.lake_retention_days,
        )
        analytics = Analytics(
            self,
            "Analytics",
            namespace=namespace,
            database_name=lake.database_name,
            tables=[lake.events_table, lake.access_logs_table],
            table_names=[EVENTS_TABLE, ACCESS_LOGS_TABLE],
            log_bucket=archive.bucket,
            results_retention_days=config.results_retention_days,
            scan_limit_gb=config.athena_scan_limit_gb,
            dev=config.dev,
        )
        salts = SaltStore(self, "Salts", namespace=namespace)
        processor = None
        if stream is not None:
            processor = Processor(
                self,
                "Processor",
                asset_dir=asset_dir,
                stream=stream.stream,  # the event source grants read (aws/kinesis: no grant)
                domains=config.domains,
                delivery_stream_name=lake.delivery_stream_name,
                salt_prefix=salts.prefix,
                service_name=namespace,
                reason_metrics=config.reason_metrics,
                mask_paths=config.mask_paths,
            )
            lake.grant_put_records(processor.function)
            salts.grant_use(processor.function)
            processor.acknowledge_salt_path(salts.parameters_arn_nag)
            failures = processor.failure_queue
        else:
            failures = failure_queue(self)
        Compaction(
            self,
            "Compaction",
            asset_dir=compactor_asset_dir,
            bucket=lake.bucket,
            events_prefix=EVENTS_PREFIX,
            failure_queue=failures,
            service_name=namespace,
            time_zone=config.time_zone,
        )

        repair = None
        if repair_asset_dir is None and not config.realtime:
            raise ValueError("-c realtime=false needs the repair function's asset")
        if repair_asset_dir is not None:
            repair = ArchiveRepair(
                self,
                "Repair",
                asset_dir=repair_asset_dir,
                archive_bucket=archive.bucket,
                archive_prefix=archive.cloudfront_prefix,
                distribution_id=collector.distribution.distribution_id,
                lake_bucket=lake.bucket,
                events_prefix=EVENTS_PREFIX,
                domains=config.domains,
                salt_prefix=salts.prefix,
                mask_paths=config.mask_paths,
                failure_queue=failures,
                service_name=namespace,
                only_input=not config.realtime,
            )
            salts.grant_use(repair.function)
            repair.acknowledge_salt_path(salts.parameters_arn_nag)

        Monitoring(
            self,
            "Monitoring",
            dashboard_name=namespace,
            namespace=METRICS_NAMESPACE,
            service_name=namespace,
            stream=stream.stream if stream else None,
            function=processor.function if processor else None,
            repair_function=repair.function if repair else None,
            delivery_stream_name=lake.delivery_stream_name,
            failure_queue=failures,
            alarm_email=config.alarm_email,
            dashboard=config.monitoring_dashboard,
            reason_metrics=config.reason_metrics,
        )

        if config.hosted_dashboard:
            if dashboard_asset_dir is None:
                raise ValueError("the hosted dashboard needs its asset (dashboard_asset_dir)")
            HostedDashboard(
                self,
                "Dashboard",
                namespace=namespace,
                asset_dir=dashboard_asset_dir,
                domains=config.domains,
                users=config.dashboard_users,
                time_zone=config.time_zone,
                archive_input=not config.realtime,
                funnels=config.funnels,
                workgroup_name=analytics.workgroup_name,
                database_name=lake.database_name,
                table_names=[EVENTS_TABLE, *analytics.view_names],
                results_bucket=analytics.results_bucket,
                results_prefix=RESULTS_PREFIX,
                lake_bucket=lake.bucket,
                events_prefix=EVENTS_PREFIX,
                log_bucket=archive.bucket,
                dev=config.dev,
            )

        script_tag = (
            f'<script defer src="https://{collector.domain_name}{TRACKER_JS_PATH}"></script>'
        )
        outputs = {
            "TrackerScriptTag": (script_tag, "Paste into every page of your site(s)"),
            "DistributionDomainName": (collector.distribution.distribution_domain_name,
                                       "CloudFront domain of the collector"),
            "AthenaWorkGroup": (analytics.workgroup_name, "Athena workgroup to query in"),
            "GlueDatabase": (lake.database_name, "Glue database with events and the views"),
            "ResultsBucket": (analytics.results_bucket.bucket_name, "Athena results bucket"),
            "LakeBucket": (lake.bucket.bucket_name,
                           "Parquet lake (events/) and Firehose's failed records (errors/)"),
            "DeliveryStreamName": (lake.delivery_stream_name,
                                   "Firehose stream; `ownstats replay-errors` re-sends to it"),
            "RepairFunction": (repair.function.function_name if repair else "",
                               "Repairs the lake from the log archive; `ownstats repair`"),
        }  # fmt: skip
        for name in OUTPUT_NAMES:
            value, description = outputs[name]
            if value:
                CfnOutput(self, name, value=value, description=description)

        Aspects.of(self).add(NoWildcardActions(), priority=AspectPriority.MUTATING)
        acknowledge_cdk_internals(self)

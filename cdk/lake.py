"""The lake: Firehose turns the processor's JSON events into partitioned Parquet.

Schema and layout come from ``stream_processor.schema`` (the one definition): the
Glue ``events`` table is built from ``EVENT_COLUMNS``/``PARTITION_KEYS``, and Firehose
converts with that very table. Partitions are found by projection
(``events/event_date=YYYY-MM-DD/``), so there is no crawler, no MSCK REPAIR and no
partition Lambda. The raw CloudFront standard logs get an ``access_logs``
table over the archive bucket for ad-hoc forensics.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from athena_views import rollup_columns
from cdk.buckets import secure_bucket
from cdk.nag import acknowledge
from lake_compactor import ERRORS_PREFIX, ERRORS_RETENTION_DAYS, ROLLUPS_PREFIX
from stream_processor.schema import EVENT_COLUMNS, EVENT_TIME_FORMAT, PARTITION_KEYS

EVENTS_TABLE = "events"
ACCESS_LOGS_TABLE = "access_logs"
EVENTS_PREFIX = "events/"
#: the first day partition projection considers (earlier dates scan nothing)
PROJECTION_START = "2024-01-01"
#: the Glue table of a view's rollups: rollup_daily_stats, rollup_top_pages, …
ROLLUP_TABLE_PREFIX = "rollup_"

#: CloudFront standard log fields, in the file's order (W3C, tab-separated, 2 header lines)
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html
ACCESS_LOG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("log_date", "date"), ("log_time", "string"), ("x_edge_location", "string"),
    ("sc_bytes", "bigint"), ("c_ip", "string"), ("cs_method", "string"),
    ("cs_host", "string"), ("cs_uri_stem", "string"), ("sc_status", "int"),
    ("cs_referer", "string"), ("cs_user_agent", "string"), ("cs_uri_query", "string"),
    ("cs_cookie", "string"), ("x_edge_result_type", "string"),
    ("x_edge_request_id", "string"), ("x_host_header", "string"),
    ("cs_protocol", "string"), ("cs_bytes", "bigint"), ("time_taken", "float"),
    ("x_forwarded_for", "string"), ("ssl_protocol", "string"), ("ssl_cipher", "string"),
    ("x_edge_response_result_type", "string"), ("cs_protocol_version", "string"),
    ("fle_status", "string"), ("fle_encrypted_fields", "int"), ("c_port", "int"),
    ("time_to_first_byte", "float"), ("x_edge_detailed_result_type", "string"),
    ("sc_content_type", "string"), ("sc_content_len", "bigint"),
    ("sc_range_start", "bigint"), ("sc_range_end", "bigint"),
)  # fmt: skip


def glue_database_name(namespace: str) -> str:
    """Glue/Athena-friendly: lower case and underscores (hyphens need quoting in SQL)."""
    return namespace.replace("-", "_").lower()


def parquet_storage(
    location: str, columns: list[glue.CfnTable.ColumnProperty]
) -> glue.CfnTable.StorageDescriptorProperty:
    """Parquet files under ``location`` with ``columns``, as Athena reads the lake's."""
    return glue.CfnTable.StorageDescriptorProperty(
        location=location,
        columns=columns,
        input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        serde_info=glue.CfnTable.SerdeInfoProperty(
            serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            parameters={"serialization.format": "1"},
        ),
        compressed=False,
        stored_as_sub_directories=False,
    )


class Lake(Construct):
    """Exposes ``bucket``, ``database_name``, ``events_table``, ``delivery_stream``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace: str,
        log_bucket: s3.IBucket,
        archive_bucket: s3.IBucket,
        archive_prefix: str,
        dev: bool,
        retention_days: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        lifecycle_rules = [
            s3.LifecycleRule(
                id="abort-incomplete-uploads",
                abort_incomplete_multipart_upload_after=Duration.days(1),
            ),
            s3.LifecycleRule(
                # records Firehose could not convert or partition: kept a year, so that
                # `ownstats replay-errors` can re-send them once the cause is fixed
                id="expire-delivery-errors", prefix=ERRORS_PREFIX,
                expiration=Duration.days(ERRORS_RETENTION_DAYS),
            ),
        ]  # fmt: skip
        if retention_days is not None:
            # -c lake_retention_days=N: S3 deletes each events/ object N days after it was
            # written (rounded up to the next UTC midnight). A day's compacted file is
            # written within hours after the day ends, so a day's events go N+1 to N+2
            # days after that day. Expiration requests are free.
            lifecycle_rules.append(
                s3.LifecycleRule(
                    id="expire-events", prefix=EVENTS_PREFIX,
                    expiration=Duration.days(retention_days),
                )
            )  # fmt: skip
        self.bucket = secure_bucket(
            self, "Bucket", dev=dev, access_logs=log_bucket,
            access_logs_prefix="s3-access/lake/",
            lifecycle_rules=lifecycle_rules,
        )  # fmt: skip

        self.database_name = glue_database_name(namespace)
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="ownstats analytics: events table and views",
            ),
        )
        location = f"s3://{self.bucket.bucket_name}/{EVENTS_PREFIX}"
        self.events_table = glue.CfnTable(
            self,
            "EventsTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=EVENTS_TABLE,
                description="One row per accepted beacon (page view, custom event, engagement)",
                table_type="EXTERNAL_TABLE",
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=n, type=t, comment=c or None)
                    for n, t, c in PARTITION_KEYS
                ],
                parameters={
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    "parquet.compression": "SNAPPY",
                    "projection.enabled": "true",
                    "projection.event_date.type": "date",
                    "projection.event_date.format": "yyyy-MM-dd",
                    "projection.event_date.range": f"{PROJECTION_START},NOW",
                    "projection.event_date.interval": "1",
                    "projection.event_date.interval.unit": "DAYS",
                    "storage.location.template": f"{location}event_date=${{event_date}}/",
                },
                storage_descriptor=parquet_storage(
                    location,
                    [
                        glue.CfnTable.ColumnProperty(name=n, type=t, comment=c or None)
                        for n, t, c in EVENT_COLUMNS
                    ],
                ),
            ),
        )
        self.events_table.add_resource_dependency(database)
        self.rollup_tables = self._rollup_tables(database)

        self.access_logs_table = glue.CfnTable(
            self,
            "AccessLogsTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=ACCESS_LOGS_TABLE,
                description="Raw CloudFront standard logs (expire with the archive lifecycle)",
                table_type="EXTERNAL_TABLE",
                parameters={"skip.header.line.count": "2", "EXTERNAL": "TRUE"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=f"s3://{archive_bucket.bucket_name}/{archive_prefix}",
                    columns=[
                        glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in ACCESS_LOG_COLUMNS
                    ],
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format=("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=(
                            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
                        ),
                        parameters={"field.delim": "\t", "serialization.format": "\t"},
                    ),
                ),
            ),
        )
        self.access_logs_table.add_resource_dependency(database)

        self._build_firehose(stack)

    def _rollup_tables(self, database: glue.CfnDatabase) -> dict[str, glue.CfnTable]:
        """One table per rolled-up view over ``rollups/<view>/month=YYYY-MM/``, found by
        projection like ``events``: Athena reads what the hosted dashboard reads
        (``SELECT * FROM rollup_daily_stats WHERE month = '2026-12'``)."""
        tables = {}
        for view, columns in rollup_columns().items():
            location = f"s3://{self.bucket.bucket_name}/{ROLLUPS_PREFIX}{view}/"
            table = glue.CfnTable(
                self,
                "Rollup" + "".join(part.title() for part in view.split("_")),
                catalog_id=Aws.ACCOUNT_ID,
                database_name=self.database_name,
                table_input=glue.CfnTable.TableInputProperty(
                    name=f"{ROLLUP_TABLE_PREFIX}{view}",
                    description=f"The {view} view's rows per day, written by the compactor",
                    table_type="EXTERNAL_TABLE",
                    partition_keys=[glue.CfnTable.ColumnProperty(name="month", type="string")],
                    parameters={
                        "classification": "parquet",
                        "EXTERNAL": "TRUE",
                        "projection.enabled": "true",
                        "projection.month.type": "date",
                        "projection.month.format": "yyyy-MM",
                        "projection.month.range": f"{PROJECTION_START[:7]},NOW",
                        "projection.month.interval": "1",
                        "projection.month.interval.unit": "MONTHS",
                        "storage.location.template": f"{location}month=${{month}}/",
                    },
                    storage_descriptor=parquet_storage(
                        location,
                        [glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in columns],
                    ),
                ),
            )
            table.add_resource_dependency(database)
            tables[view] = table
        return tables

    def _build_firehose(self, stack: Stack) -> None:
        """Direct PUT → Parquet (Glue schema) → dynamic partitions by event_date."""
        self.firehose_log_group = logs.LogGroup(
            self, "FirehoseLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        log_stream = logs.LogStream(
            self, "FirehoseS3Delivery", log_group=self.firehose_log_group,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip

        role = iam.Role(
            self, "FirehoseRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}},
            ),
            description="ownstats: Firehose writes Parquet into the lake",
        )  # fmt: skip
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject",
                    "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject",
                ],  # the documented Firehose S3 destination set
                resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects("*")],
            )
        )  # fmt: skip
        role.add_to_policy(
            iam.PolicyStatement(
                # format conversion reads the schema from the Glue table
                actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database",
                                     resource_name=self.database_name),
                    stack.format_arn(service="glue", resource="table",
                                     resource_name=f"{self.database_name}/{EVENTS_TABLE}"),
                ],
            )
        )  # fmt: skip
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                resources=[
                    stack.format_arn(
                        service="logs", resource="log-group",
                        resource_name=(
                            f"{self.firehose_log_group.log_group_name}:log-stream:"
                            f"{log_stream.log_stream_name}"
                        ),
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )  # fmt: skip

        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=(
                firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                    key_type="AWS_OWNED_CMK"
                )
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=f"{EVENTS_PREFIX}event_date=!{{partitionKeyFromQuery:event_date}}/",
                error_output_prefix=(
                    f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/!{{timestamp:yyyy-MM-dd}}/"
                ),
                # 60 s; with dynamic partitioning Firehose may take up to 1.5x that, so
                # events are queryable ~90-100 s after the page view (with the processor's
                # 10 s batching window). 64 MiB is the minimum buffer size Firehose
                # accepts with format conversion on.
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=60, size_in_m_bs=64
                ),
                compression_format="UNCOMPRESSED",  # Parquet compresses itself (Snappy)
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    no_encryption_config="NoEncryption"  # objects get the bucket's SSE-S3
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.firehose_log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
                data_format_conversion_configuration=firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty(
                    enabled=True,
                    input_format_configuration=firehose.CfnDeliveryStream.InputFormatConfigurationProperty(
                        deserializer=firehose.CfnDeliveryStream.DeserializerProperty(
                            # Hive JSON SerDe, not OpenX: only it takes the special
                            # timestamp format "millis" (event_time is epoch ms).
                            hive_json_ser_de=firehose.CfnDeliveryStream.HiveJsonSerDeProperty(
                                timestamp_formats=[EVENT_TIME_FORMAT]
                            )
                        )
                    ),
                    output_format_configuration=firehose.CfnDeliveryStream.OutputFormatConfigurationProperty(
                        serializer=firehose.CfnDeliveryStream.SerializerProperty(
                            parquet_ser_de=firehose.CfnDeliveryStream.ParquetSerDeProperty(
                                compression="SNAPPY"
                            )
                        )
                    ),
                    schema_configuration=firehose.CfnDeliveryStream.SchemaConfigurationProperty(
                        catalog_id=Aws.ACCOUNT_ID,
                        database_name=self.database_name,
                        table_name=EVENTS_TABLE,
                        region=Aws.REGION,
                        role_arn=role.role_arn,
                        version_id="LATEST",
                    ),
                ),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(
                        duration_in_seconds=300
                    ),
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        # the processor packs several JSON-line events per record (Firehose
                        # bills each record rounded up to 5 KB); split them back here
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="RecordDeAggregation",
                            parameters=[
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="SubRecordType", parameter_value="JSON"
                                )
                            ],
                        ),
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="MetadataExtractionQuery",
                                    parameter_value="{event_date: .event_date}",
                                ),
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="JsonParsingEngine",
                                    parameter_value="JQ-1.6",
                                ),
                            ],
                        ),
                    ],
                ),
            ),
        )
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            role,
            {
                f"IAM5[Resource::<{bucket_id}.Arn>/*]": "Firehose "
                "writes one object per buffer under generated keys (events/event_date=…/, "
                "errors/…); this is the documented Firehose S3 destination policy.",
            },
        )
        # the role's policy must exist before Firehose validates access on creation
        default_policy = role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            self.delivery_stream.node.add_dependency(default_policy)
        self.delivery_stream.add_resource_dependency(self.events_table)
        self.delivery_stream_name: str = self.delivery_stream.ref
        self.delivery_stream_arn: str = self.delivery_stream.attr_arn

    def grant_put_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Only PutRecordBatch (and PutRecord) on this one delivery stream."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["firehose:PutRecordBatch", "firehose:PutRecord"],
            resource_arns=[self.delivery_stream_arn],
        )

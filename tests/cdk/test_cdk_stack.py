"""The synthesized ownstats stack, one assertion group per unit.

All tests read the session's single synth (see conftest.py); no logical IDs are
hard-coded — resources are found by type and properties.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from cdk_support import Synth, fixed_monthly_cost

from athena_views import load_views
from cdk.stack import OUTPUT_NAMES
from stream_processor.fields import REALTIME_LOG_FIELDS
from stream_processor.schema import EVENT_COLUMNS, EVENT_TIME_FORMAT, PARTITION_KEYS

pytestmark = pytest.mark.cdk


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _identity_statements(synth: Synth) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for resource in synth.json["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            statements += props["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                statements += policy["PolicyDocument"]["Statement"]
    return statements


def _statements_of_role_with(synth: Synth, action: str) -> list[dict[str, Any]]:
    """All identity statements of the one role whose policy contains ``action``."""
    for resource in synth.resources("AWS::IAM::Policy").values():
        statements = resource["Properties"]["PolicyDocument"]["Statement"]
        if any(action in _actions(s) for s in statements):
            return statements
    raise AssertionError(f"no policy grants {action}")


# --- security baseline --------------------------------------------------------------


def test_every_bucket_is_private_encrypted_and_retained(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 5  # collector, archive, lake, Athena results, dashboard page
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert bucket["DeletionPolicy"] == "Retain"  # not dev mode
    assert synth.template.find_resources("Custom::S3AutoDeleteObjects") == {}


def test_every_bucket_enforces_tls(synth: Synth) -> None:
    policies = synth.resources("AWS::S3::BucketPolicy").values()
    tls_denied = {
        json.dumps(p["Properties"]["Bucket"])
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    }
    buckets = {json.dumps({"Ref": k}) for k in synth.resources("AWS::S3::Bucket")}
    assert buckets <= tls_denied


def test_no_wildcard_iam_actions(synth: Synth) -> None:
    statements = _identity_statements(synth)
    assert statements
    wildcards = [a for s in statements for a in _actions(s) if "*" in a]
    assert wildcards == []


def test_no_managed_policies_on_our_roles(synth: Synth) -> None:
    for role in synth.resources("AWS::IAM::Role").values():
        assert not role["Properties"].get("ManagedPolicyArns"), role


# --- collector ----------------------------------------------------------------------


def test_distribution_uses_oac_https_compression_and_logging(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {
            "OriginAccessControlConfig": Match.object_like(
                {"OriginAccessControlOriginType": "s3", "SigningBehavior": "always"}
            )
        },
    )
    synth.template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultCacheBehavior": Match.object_like(
                        {
                            "ViewerProtocolPolicy": "redirect-to-https",
                            "Compress": True,
                            "ResponseHeadersPolicyId": Match.any_value(),
                        }
                    ),
                    "Origins": [
                        Match.object_like(
                            {
                                "OriginAccessControlId": Match.any_value(),
                                "S3OriginConfig": {"OriginAccessIdentity": ""},
                            }
                        )
                    ],
                    "Logging": Match.object_like({"Prefix": "cloudfront/"}),
                    "HttpVersion": "http2and3",
                }
            )
        },
    )


def test_beacon_behaviour_logs_in_real_time_and_caches_without_query(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "CacheBehaviors": [
                        Match.object_like(
                            {
                                "PathPattern": "/hello.gif",
                                "RealtimeLogConfigArn": Match.any_value(),
                                "ViewerProtocolPolicy": "https-only",
                                "CachePolicyId": Match.any_value(),
                            }
                        )
                    ]
                }
            )
        },
    )
    synth.template.has_resource_properties(
        "AWS::CloudFront::CachePolicy",
        {
            "CachePolicyConfig": Match.object_like(
                {
                    "MinTTL": 86400,
                    "ParametersInCacheKeyAndForwardedToOrigin": Match.object_like(
                        {
                            "QueryStringsConfig": {"QueryStringBehavior": "none"},
                            "HeadersConfig": {"HeaderBehavior": "none"},
                            "CookiesConfig": {"CookieBehavior": "none"},
                        }
                    ),
                }
            )
        },
    )


def test_realtime_log_config_waits_for_its_roles_policy(synth: Synth) -> None:
    # CloudFront checks on creation that the role may write to the stream: the config
    # must not be created before the role's policy, which only its ARN would not ensure
    (config,) = synth.resources("AWS::CloudFront::RealtimeLogConfig").values()
    (endpoint,) = config["Properties"]["EndPoints"]
    role_id = endpoint["KinesisStreamConfig"]["RoleArn"]["Fn::GetAtt"][0]
    (policy_id,) = [
        k
        for k, p in synth.resources("AWS::IAM::Policy").items()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    policy = synth.json["Resources"][policy_id]["Properties"]["PolicyDocument"]
    assert "kinesis:PutRecords" in [a for st in policy["Statement"] for a in _actions(st)]
    assert policy_id in config.get("DependsOn", [])


def test_realtime_log_config_fields_come_from_the_one_definition(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::CloudFront::RealtimeLogConfig",
        {
            "Fields": list(REALTIME_LOG_FIELDS),
            "SamplingRate": 100,
            "EndPoints": [
                {
                    "StreamType": "Kinesis",
                    "KinesisStreamConfig": {
                        "RoleArn": Match.any_value(),
                        "StreamArn": Match.any_value(),
                    },
                }
            ],
        },
    )


def test_security_response_headers(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::CloudFront::ResponseHeadersPolicy",
        {
            "ResponseHeadersPolicyConfig": Match.object_like(
                {
                    "SecurityHeadersConfig": Match.object_like(
                        {
                            "StrictTransportSecurity": Match.object_like(
                                {"AccessControlMaxAgeSec": 63072000}
                            ),
                            "ContentTypeOptions": {"Override": True},
                            "FrameOptions": {"FrameOption": "DENY", "Override": True},
                        }
                    )
                }
            )
        },
    )


def test_beacons_are_answered_with_a_cors_header(synth: Synth) -> None:
    # hello.js fetches hello.gif as a plain CORS GET: without this header every
    # beacon would log a CORS error in the site's console.
    synth.template.has_resource_properties(
        "AWS::CloudFront::ResponseHeadersPolicy",
        {
            "ResponseHeadersPolicyConfig": Match.object_like(
                {
                    "CorsConfig": Match.object_like(
                        {
                            "AccessControlAllowOrigins": {"Items": ["*"]},
                            "AccessControlAllowMethods": {"Items": ["GET", "HEAD"]},
                            "AccessControlAllowCredentials": False,
                            "OriginOverride": True,
                        }
                    )
                }
            )
        },
    )


def test_tracker_files_are_deployed_with_their_cache_headers(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {
            "DistributionPaths": ["/hello.js"],
            "Prune": False,
            "SystemMetadata": Match.object_like(
                {
                    "cache-control": "public, max-age=300",
                    "content-type": Match.string_like_regexp("javascript"),
                }
            ),
        },
    )
    synth.template.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {
            "Prune": False,
            "SystemMetadata": {"cache-control": "no-store, max-age=0", "content-type": "image/gif"},
        },
    )


def test_archive_expires_raw_logs_after_retention_days(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"ExpirationInDays": 14, "Status": "Enabled"})]
                )
            },
        },
    )


# --- stream and processor -----------------------------------------------------------


def test_stream_is_kms_encrypted_with_shards_from_context(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "ShardCount": 2,
            # the AWS-managed key: encrypted at rest without a $1-3/month key of our own
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        },
    )
    synth.template.resource_count_is("AWS::KMS::Key", 0)


def test_stream_goes_with_the_stack(synth: Synth) -> None:
    # a retained stream keeps billing its shards after `cdk destroy`; it holds at most
    # 24 h of log lines that the archive bucket keeps anyway
    (stream,) = synth.resources("AWS::Kinesis::Stream").values()
    assert stream["DeletionPolicy"] == "Delete"
    assert stream["UpdateReplacePolicy"] == "Delete"


def test_processor_function(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "stream_processor.handler.handler",
            "Runtime": Match.string_like_regexp(r"^python3\.1[3-9]$"),
            "Architectures": ["arm64"],
            "MemorySize": 1024,
            "Timeout": 60,
            "Environment": {
                "Variables": {
                    "OWNSTATS_DOMAINS": "example.com,blog.example.org",
                    "OWNSTATS_FIREHOSE_STREAM": {"Ref": Match.any_value()},
                    "OWNSTATS_SALT_PREFIX": "/ownstats/ownstats-example-com/salts/",
                    "POWERTOOLS_SERVICE_NAME": "ownstats-example-com",
                    "POWERTOOLS_METRICS_NAMESPACE": "ownstats",
                    "OWNSTATS_REASON_METRICS": "1",  # -c reason_metrics=true
                }
            },
        },
    )


def test_kinesis_event_source_reports_partial_failures(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRecordAgeInSeconds": 12 * 3600,
            "BatchSize": 500,
            "MaximumBatchingWindowInSeconds": 10,
            "StartingPosition": "TRIM_HORIZON",
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}
            },
        },
    )
    synth.template.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})


def test_processor_iam_is_least_privilege(synth: Synth) -> None:
    statements = _statements_of_role_with(synth, "ssm:PutParameter")
    by_action = {a: s for s in statements for a in _actions(s)}
    assert set(_actions(by_action["ssm:PutParameter"])) == {"ssm:GetParameter", "ssm:PutParameter"}
    resource = json.dumps(by_action["ssm:PutParameter"]["Resource"])
    assert "parameter/ownstats/ownstats-example-com/salts/*" in resource
    assert set(_actions(by_action["firehose:PutRecordBatch"])) == {
        "firehose:PutRecordBatch",
        "firehose:PutRecord",
    }
    # the stream's aws/kinesis key is usable through Kinesis without a KMS grant
    assert not any(a.startswith("kms:") for a in by_action)
    assert "sqs:SendMessage" in by_action  # the on-failure destination
    assert not any(a.startswith(("s3:", "glue:", "athena:")) for a in by_action)


# --- lake ---------------------------------------------------------------------------


def test_events_table_is_the_schema_with_partition_projection(synth: Synth) -> None:
    tables = synth.resources("AWS::Glue::Table")
    (events,) = [t for t in tables.values() if t["Properties"]["TableInput"]["Name"] == "events"]
    table = events["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [(n, t) for n, t, _ in EVENT_COLUMNS]
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [
        (n, t) for n, t, _ in PARTITION_KEYS
    ]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.event_date.type"] == "date"
    assert params["projection.event_date.format"] == "yyyy-MM-dd"
    assert params["projection.event_date.range"] == "2024-01-01,NOW"
    assert "events/event_date=${event_date}/" in json.dumps(params["storage.location.template"])
    serde = table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert serde.endswith("ParquetHiveSerDe")


def test_each_rollup_is_a_table_with_month_projection(synth: Synth) -> None:
    from athena_views import rollup_columns

    tables = {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
        for t in synth.resources("AWS::Glue::Table").values()
    }
    expected = rollup_columns()
    assert {n for n in tables if n.startswith("rollup_")} == {f"rollup_{v}" for v in expected}
    for view, columns in expected.items():
        table = tables[f"rollup_{view}"]
        stored = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert stored == columns, view
        assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [("month", "string")]
        params = table["Parameters"]
        assert params["projection.month.type"] == "date"
        assert params["projection.month.format"] == "yyyy-MM"
        assert params["projection.month.interval.unit"] == "MONTHS"
        template = json.dumps(params["storage.location.template"])
        assert f"rollups/{view}/month=${{month}}/" in template


def test_no_crawler_no_partition_lambda(synth: Synth) -> None:
    assert synth.resources("AWS::Glue::Crawler") == {}
    handlers = {
        f["Properties"].get("Handler") for f in synth.resources("AWS::Lambda::Function").values()
    }
    # the processor, the lake compactor, the view deployer, the hosted dashboard's API and
    # CDK's BucketDeployment handlers (the tracker's, the dashboard page's) — nothing else
    assert handlers == {
        "stream_processor.handler.handler",
        "lake_compactor.handler.handler",
        "lake_compactor.repair_handler.handler",
        "ownstats.dashboard.hosted.handler",
        "index.handler",
    }
    assert len(synth.resources("AWS::Lambda::Function")) == 7


def test_access_logs_table_over_the_archive(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Glue::Table",
        {
            "TableInput": Match.object_like(
                {
                    "Name": "access_logs",
                    "Parameters": Match.object_like({"skip.header.line.count": "2"}),
                    "StorageDescriptor": Match.object_like(
                        {
                            "SerdeInfo": Match.object_like(
                                {"Parameters": Match.object_like({"field.delim": "\t"})}
                            )
                        }
                    ),
                }
            )
        },
    )


def test_firehose_converts_to_parquet_and_partitions_by_event_date(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "DeliveryStreamType": "DirectPut",
            "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
            "ExtendedS3DestinationConfiguration": Match.object_like(
                {
                    "Prefix": "events/event_date=!{partitionKeyFromQuery:event_date}/",
                    "ErrorOutputPrefix": Match.string_like_regexp(
                        r"^errors/!\{firehose:error-output-type\}/"
                    ),
                    "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 64},
                    "CompressionFormat": "UNCOMPRESSED",
                    "DynamicPartitioningConfiguration": Match.object_like({"Enabled": True}),
                    "ProcessingConfiguration": {
                        "Enabled": True,
                        "Processors": [
                            {
                                # the processor packs JSON-line events per record
                                "Type": "RecordDeAggregation",
                                "Parameters": [
                                    {"ParameterName": "SubRecordType", "ParameterValue": "JSON"}
                                ],
                            },
                            {
                                "Type": "MetadataExtraction",
                                "Parameters": Match.array_with(
                                    [
                                        {
                                            "ParameterName": "MetadataExtractionQuery",
                                            "ParameterValue": "{event_date: .event_date}",
                                        }
                                    ]
                                ),
                            },
                        ],
                    },
                    "DataFormatConversionConfiguration": Match.object_like(
                        {
                            "Enabled": True,
                            "InputFormatConfiguration": {
                                "Deserializer": {
                                    "HiveJsonSerDe": {"TimestampFormats": [EVENT_TIME_FORMAT]}
                                }
                            },
                            "OutputFormatConfiguration": {
                                "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}
                            },
                            "SchemaConfiguration": Match.object_like(
                                {"TableName": "events", "DatabaseName": "ownstats_example_com"}
                            ),
                        }
                    ),
                }
            ),
        },
    )


# --- Athena ---------------------------------------------------------------------------


def test_workgroup_is_enforced_encrypted_and_capped(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": "ownstats-example-com",
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "BytesScannedCutoffPerQuery": 5_000_000_000,
                    "ResultConfiguration": {
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                        "OutputLocation": Match.any_value(),
                    },
                }
            ),
        },
    )
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": [Match.object_like({"Id": "expire-query-results", "ExpirationInDays": 7})]
            }
        },
    )


def test_every_view_is_deployed_in_dependency_order(synth: Synth) -> None:
    (views,) = synth.resources("Custom::AthenaViews").values()
    props = views["Properties"]
    assert props["Database"] == "ownstats_example_com"
    assert props["WorkGroup"] == "ownstats-example-com"
    assert len(props["EventsSchema"]) == 16  # re-runs the views when the schema changes
    expected = [v.name for v in load_views()]
    assert [v["Name"] for v in props["Views"]] == expected
    assert {"page_views", "daily_stats"} <= set(expected)
    for view in props["Views"]:
        assert view["Statement"].startswith(f'CREATE OR REPLACE VIEW "{view["Name"]}" AS')
    # created only once the tables they read exist (the rollups' tables are read by no view)
    tables = {
        logical_id
        for logical_id, t in synth.resources("AWS::Glue::Table").items()
        if not t["Properties"]["TableInput"]["Name"].startswith("rollup_")
    }
    assert tables and tables <= set(views["DependsOn"])


def test_view_deployer_answers_within_a_service_timeout(synth: Synth) -> None:
    # without ServiceTimeout CloudFormation waits an hour for an answer that never comes
    (views,) = synth.resources("Custom::AthenaViews").values()
    function_id = views["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    lambda_timeout = synth.json["Resources"][function_id]["Properties"]["Timeout"]
    service_timeout = int(views["Properties"]["ServiceTimeout"])
    assert lambda_timeout < service_timeout <= 900


# --- monitoring and outputs -----------------------------------------------------------


def test_dashboard_shows_the_whole_path(synth: Synth) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in (
        "IncomingRecords",
        "RecordsIn",
        "EventsAccepted",
        "EventsRejected",
        "reason",
        "IteratorAge",
        "Errors",
        "Duration",
        "DeliveryToS3.DataFreshness",
        "PageViews",
    ):
        assert needle in body, needle
    assert "SEARCH(" in body  # -c reason_metrics=true: one line per rejection reason


def test_options_reach_the_fixed_cost(synth: Synth) -> None:
    # two shards, the dashboard and per-reason metrics: what `-c` turned on is billed
    cost = fixed_monthly_cost(synth.json)
    assert cost["kinesis shards"] == pytest.approx(2 * 10.95)
    assert cost["kms keys"] == 0
    assert cost["dashboards"] == pytest.approx(3.00)
    assert cost["alarms"] == pytest.approx(1.00)
    assert cost["custom metrics"] == pytest.approx((4 + 7) * 0.30)


@pytest.mark.parametrize(
    "metric",
    [
        "IteratorAge",
        "Errors",
        "DeliveryFailures",
        "DeliveryToS3.Success",
        "ApproximateNumberOfMessagesVisible",
    ],
)
def test_alarm(synth: Synth, metric: str) -> None:
    alarms = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if f'"{metric}"' in json.dumps(a["Properties"])
    ]
    assert alarms, f"no alarm on {metric}"
    for alarm in alarms:
        assert alarm["AlarmActions"] and alarm["AlarmDescription"]


def test_alarm_topic_is_tls_only_and_mailed(synth: Synth) -> None:
    # no KMS key: CloudWatch cannot publish to an aws/sns-encrypted topic (see cdk-nag SNS2)
    synth.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.absent()})
    synth.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                }
            )
        },
    )
    synth.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Endpoint": "ops@example.com", "Protocol": "email"}
    )


def test_outputs_for_the_cli(synth: Synth) -> None:
    outputs = synth.json["Outputs"]
    assert set(OUTPUT_NAMES) <= set(outputs)
    tag = json.dumps(outputs["TrackerScriptTag"]["Value"])
    assert '<script defer src=\\"https://' in tag and '/hello.js\\"></script>' in tag
    assert outputs["AthenaWorkGroup"]["Value"] == "ownstats-example-com"
    assert outputs["GlueDatabase"]["Value"] == "ownstats_example_com"


def test_athena_callers_may_read_the_default_database(synth: Synth) -> None:
    """Athena's guide ("Fine-grained access to databases and tables"): a caller whose Glue
    access is narrowed needs the catalog and the default database too, read-only."""
    default = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":glue:", {"Ref": "AWS::Region"},
                          ":", {"Ref": "AWS::AccountId"}, ":database/default"]]
    }  # fmt: skip
    roles_with_glue = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        actions = [
            a for s in statements for a in (s["Action"] if isinstance(s["Action"], list)
                                             else [s["Action"]])
        ]  # fmt: skip
        if "glue:GetTable" not in actions or "glue:GetTableVersions" in actions:
            continue  # Firehose's role reads the table's schema only, not through Athena
        roles_with_glue.append(policy["Properties"]["Roles"])
        granted = [s for s in statements if default in (
            s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]  # fmt: skip
        assert granted and set(granted[0]["Action"]) == {"glue:GetDatabase", "glue:GetDatabases"}
    assert len(roles_with_glue) == 2  # the view deployer and the hosted dashboard


def test_retries_outlast_an_hour_long_outage_and_leave_time_to_replay(synth: Synth) -> None:
    """10 retries of a ~5 s invocation used to give up after about a minute of Firehose
    throttling; the failure queue then held positions the stream dropped 24 h later."""
    (mapping,) = synth.resources("AWS::Lambda::EventSourceMapping").values()
    (stream,) = synth.resources("AWS::Kinesis::Stream").values()
    props = mapping["Properties"]
    retention_s = stream["Properties"]["RetentionPeriodHours"] * 3600
    assert props["MaximumRecordAgeInSeconds"] >= 3600 * 6
    # no count ends the retries first: CloudFormation's default -1 retries until that age
    assert props.get("MaximumRetryAttempts", -1) == -1
    # a record that gives up still has half the retention left to be re-read
    assert retention_s - props["MaximumRecordAgeInSeconds"] >= 6 * 3600


def test_records_firehose_cannot_convert_raise_an_alarm_and_are_kept_a_year(
    synth: Synth,
) -> None:
    """DeliveryToS3.Success stays at 1 while Firehose writes unconvertible records to
    errors/: a schema mismatch would have emptied the lake without a word."""
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if "FailedConversion.Records" in json.dumps(a["Properties"])
    ]
    if "Metrics" in alarm:  # CDK writes a metric with a label as a one-metric query
        (query,) = alarm["Metrics"]
        metric, statistic = query["MetricStat"]["Metric"], query["MetricStat"]["Stat"]
    else:
        metric, statistic = alarm, alarm["Statistic"]
    assert metric["Namespace"] == "AWS/Firehose" and statistic == "Sum"
    assert metric["MetricName"] == "FailedConversion.Records"
    assert metric["Dimensions"][0]["Name"] == "DeliveryStreamName"
    assert alarm["Threshold"] == 0 and alarm["AlarmActions"]
    assert "replay-errors" in alarm["AlarmDescription"]
    rules = [
        rule
        for bucket in synth.resources("AWS::S3::Bucket").values()
        for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
        if rule.get("Prefix") == "errors/"
    ]
    assert [r["ExpirationInDays"] for r in rules] == [365]
    (stream,) = synth.resources("AWS::KinesisFirehose::DeliveryStream").values()
    destination = stream["Properties"]["ExtendedS3DestinationConfiguration"]
    assert destination["ErrorOutputPrefix"].startswith("errors/")
    assert {"LakeBucket", "DeliveryStreamName"} <= set(synth.json["Outputs"])

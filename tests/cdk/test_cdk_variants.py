"""Context variants that change single constructs: built alone, so no second full synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import AspectPriority, Aspects
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from cdk_support import fixed_monthly_cost

from cdk.archive import LogArchive
from cdk.collector import Collector
from cdk.config import OwnstatsConfig
from cdk.iam import NoWildcardActions, WildcardActionError, narrow_actions
from cdk.monitoring import Monitoring
from cdk.nag import acknowledge_cdk_internals
from cdk.processor import METRICS_NAMESPACE, REASON_METRICS_ENV, Processor
from cdk.stream import BeaconStream

pytestmark = pytest.mark.cdk


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Variant")


def test_on_demand_stream() -> None:
    stack = _stack()
    BeaconStream(stack, "Stream", shards=None)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "ShardCount": Match.absent(),
            "StreamEncryption": Match.object_like({"EncryptionType": "KMS"}),
        },
    )


def test_custom_tracker_domain_gets_alias_and_modern_tls(tracker: tuple[Path, Path]) -> None:
    stack = _stack()
    stream = BeaconStream(stack, "Stream", shards=1)
    archive = LogArchive(stack, "Archive", retention_days=30, dev=False)
    collector = Collector(
        stack,
        "Collector",
        stream=stream.stream,
        log_bucket=archive.bucket,
        log_prefix="cloudfront/",
        tracker_js=tracker[0],
        tracker_gif=tracker[1],
        tracker_domain="t.example.com",
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa",
        dev=False,
    )
    assert collector.domain_name == "t.example.com"
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "Aliases": ["t.example.com"],
                    "ViewerCertificate": Match.object_like(
                        {
                            "AcmCertificateArn": Match.string_like_regexp("us-east-1"),
                            "MinimumProtocolVersion": "TLSv1.2_2021",
                            "SslSupportMethod": "sni-only",
                        }
                    ),
                }
            )
        },
    )


def _identity_actions(template: dict[str, Any]) -> list[str]:
    actions: list[str] = []
    for resource in template["Resources"].values():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy"):
            continue
        props = resource.get("Properties", {})
        docs = [props.get("PolicyDocument")] + [
            p.get("PolicyDocument") for p in props.get("Policies", []) or []
        ]
        for doc in filter(None, docs):
            for statement in doc["Statement"]:
                action = statement.get("Action", [])
                actions += [action] if isinstance(action, str) else action
    return actions


def test_dev_mode_destroys_buckets_and_still_passes_iam_and_nag() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Dev")
    LogArchive(stack, "Archive", retention_days=3, dev=True)
    Aspects.of(stack).add(NoWildcardActions(), priority=AspectPriority.MUTATING)
    acknowledge_cdk_internals(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = Template.from_stack(stack)  # raises if cdk-nag finds anything unexplained
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})
    template.resource_count_is("Custom::S3AutoDeleteObjects", 1)
    actions = _identity_actions(template.to_json())
    assert {"s3:DeleteObject", "s3:ListBucketVersions"} <= set(actions)
    assert [a for a in actions if "*" in a] == []


def test_unknown_wildcard_fails_the_synth_with_a_pointer() -> None:
    assert narrow_actions(["s3:GetObject*", "s3:PutObject"]) == ["s3:GetObject", "s3:PutObject"]
    with pytest.raises(WildcardActionError, match="NARROWED_ACTIONS"):
        narrow_actions(["dynamodb:*"])


def _billed_parts(asset_dir: Path, config: OwnstatsConfig) -> dict[str, Any]:
    """Everything that costs money per month whatever the traffic (the stream, the
    processor's metrics, the monitoring), built from ``config`` as the stack does."""
    (asset_dir / "handler.py").write_text("# stand-in for the processor asset\n")
    stack = _stack()
    stream = BeaconStream(stack, "Stream", shards=config.shards)
    processor = Processor(
        stack, "Processor", asset_dir=asset_dir, stream=stream.stream,
        domains=config.domains, delivery_stream_name="delivery", salt_prefix="/salts/",
        service_name=config.stack_name, reason_metrics=config.reason_metrics,
    )  # fmt: skip
    Monitoring(
        stack, "Monitoring", dashboard_name=config.stack_name, namespace=METRICS_NAMESPACE,
        service_name=config.stack_name, stream=stream.stream, function=processor.function,
        delivery_stream_name="delivery", failure_queue=processor.failure_queue,
        alarm_email=config.alarm_email, dashboard=config.monitoring_dashboard,
        reason_metrics=config.reason_metrics,
    )  # fmt: skip
    return Template.from_stack(stack).to_json()


def test_default_fixed_cost_stays_near_13_dollars(tmp_path: Path) -> None:
    # docs/DEPLOY.md (Cost) states these items and their total; keep them in step
    template = _billed_parts(tmp_path, OwnstatsConfig.from_mapping({"domain": "example.com"}))
    cost = fixed_monthly_cost(template)
    assert cost == pytest.approx(
        {
            "kinesis shards": 10.95,  # 1 shard × 730 h × $0.015
            "kms keys": 0.0,  # aws/kinesis, no key of our own
            "dashboards": 0.0,  # -c monitoring_dashboard=false
            "alarms": 1.00,  # 10 × $0.10
            "custom metrics": 1.20,  # 4 × $0.30; -c reason_metrics=false
            "salts": 0.10,
        }
    )
    assert sum(cost.values()) == pytest.approx(13.25)
    assert sum(cost.values()) <= 13.30


def test_by_default_no_dashboard_and_no_reason_metrics_but_every_alarm(tmp_path: Path) -> None:
    template = _billed_parts(tmp_path, OwnstatsConfig.from_mapping({"domain": "example.com"}))
    assert [r for r in template["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Dashboard"] == []  # fmt: skip
    alarms = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == 10 and all(a["Properties"]["AlarmActions"] for a in alarms)
    (function,) = [r for r in template["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function"]  # fmt: skip
    assert function["Properties"]["Environment"]["Variables"][REASON_METRICS_ENV] == "0"


def test_dashboard_without_reason_metrics_computes_the_rejections(tmp_path: Path) -> None:
    config = OwnstatsConfig.from_mapping({"domain": "example.com", "monitoring_dashboard": "1"})
    template = _billed_parts(tmp_path, config)
    (dashboard,) = [r for r in template["Resources"].values()
                    if r["Type"] == "AWS::CloudWatch::Dashboard"]  # fmt: skip
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "SEARCH(" not in body  # no per-reason metrics to search for
    assert "FILL(records, 0) - FILL(accepted, 0) - FILL(failed, 0)" in body
    assert fixed_monthly_cost(template)["dashboards"] == pytest.approx(3.00)

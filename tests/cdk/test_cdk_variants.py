"""Context variants that change single constructs: built alone, so no second full synth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import AspectPriority, Aspects
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from cdk.archive import LogArchive
from cdk.collector import Collector
from cdk.iam import NoWildcardActions, WildcardActionError, narrow_actions
from cdk.nag import acknowledge_cdk_internals
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

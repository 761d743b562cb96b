"""The narrowed CloudFormation execution policy of docs/DEPLOY.md, derived from the
template: every AWS service the stack creates resources of is allowed, and nothing else.

The first version of that policy lacked ``events:*`` (the compaction schedule) and the
IAM reads and updates CloudFormation makes on role updates and ``cdk destroy``; a deploy
with it failed. This test keeps docs/ownstats-cfn-exec.json in step with the template.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_support import Synth

from cdk.config import REPO_ROOT

pytestmark = pytest.mark.cdk

POLICY = REPO_ROOT / "docs" / "ownstats-cfn-exec.json"
#: CloudFormation's service names → IAM's action prefixes
PREFIX = {
    "ApiGatewayV2": "apigateway",
    "Athena": "athena",
    "CloudFront": "cloudfront",
    "CloudWatch": "cloudwatch",
    "Cognito": "cognito-idp",
    "Events": "events",
    "Glue": "glue",
    "Kinesis": "kinesis",
    "KinesisFirehose": "firehose",
    "KMS": "kms",
    "Lambda": "lambda",
    "Logs": "logs",
    "S3": "s3",
    "SNS": "sns",
    "SQS": "sqs",
    "SSM": "ssm",
}
#: what CloudFormation calls on the stack's roles to create, update, tag and delete them
#: and their inline policies (CloudFormation's IAM resource handlers)
ROLE_ACTIONS = {
    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy", "iam:UpdateRoleDescription", "iam:PassRole",
    "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
    "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
    "iam:AttachRolePolicy", "iam:DetachRolePolicy",
}  # fmt: skip


def needed_prefixes(template: dict[str, Any]) -> set[str]:
    prefixes = set()
    for resource in template["Resources"].values():
        kind = resource["Type"]
        if kind.startswith("Custom::"):
            prefixes.add("lambda")  # a custom resource is a Lambda invoked by CloudFormation
            continue
        if kind == "AWS::CDK::Metadata" or kind.startswith("AWS::IAM::"):
            continue
        service = kind.split("::")[1]
        assert service in PREFIX, f"map {kind}'s service to its IAM prefix in this test"
        prefixes.add(PREFIX[service])
    return prefixes


def statements() -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(POLICY.read_text())["Statement"]}


def test_the_policy_allows_every_service_the_stack_creates_and_no_other(synth: Synth) -> None:
    allowed = set(statements()["StackServices"]["Action"])
    needed = {f"{prefix}:*" for prefix in needed_prefixes(synth.json)}
    # the bootstrap version check reads one SSM parameter; the stack creates none
    assert allowed - {"ssm:GetParameters"} == needed


def test_the_policy_lets_cloudformation_manage_the_stacks_roles_only(synth: Synth) -> None:
    roles = statements()["StackRolesOnly"]
    assert set(roles["Action"]) == ROLE_ACTIONS
    assert roles["Resource"] == "arn:aws:iam::*:role/ownstats-*"
    # every role the stack creates gets a name CloudFormation derives from the stack's
    assert synth.stack.stack_name.startswith("ownstats-")
    for role in synth.resources("AWS::IAM::Role").values():
        assert "RoleName" not in role["Properties"]  # generated: <stack>-<id>-<suffix>

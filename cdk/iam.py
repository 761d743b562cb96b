"""No wildcard IAM actions: an aspect that narrows CDK's grant shorthands.

CDK's ``grant*`` helpers (used inside BucketDeployment, autoDeleteObjects and KMS/S3
grants) write action wildcards such as ``s3:GetObject*`` or ``kms:GenerateDataKey*``.
Least privilege is the rule, so before the template is written every policy's
actions are rewritten to the concrete actions those helpers actually call. A wildcard
without a known mapping fails the synth, so none can slip through unnoticed.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnResource, IAspect, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

#: wildcard → the concrete actions the CDK helpers that emit it really use
NARROWED_ACTIONS: dict[str, tuple[str, ...]] = {
    "s3:GetObject*": ("s3:GetObject",),
    "s3:GetBucket*": ("s3:GetBucketLocation", "s3:GetBucketTagging"),
    "s3:List*": ("s3:ListBucket", "s3:ListBucketVersions"),
    "s3:DeleteObject*": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "s3:Abort*": ("s3:AbortMultipartUpload",),
    "kms:GenerateDataKey*": ("kms:GenerateDataKey",),
    "kms:ReEncrypt*": (),  # never called by the grantees in this app
}


class WildcardActionError(ValueError):
    """A policy uses a wildcard action this module does not know how to narrow."""


def narrow_actions(actions: Any) -> Any:
    """Replace wildcard actions by their concrete list (order kept, no duplicates)."""
    if isinstance(actions, str):
        actions = [actions]
    if not isinstance(actions, list):
        return actions
    out: list[str] = []
    for action in actions:
        if isinstance(action, str) and "*" in action:
            if action not in NARROWED_ACTIONS:
                raise WildcardActionError(
                    f"IAM action {action!r} is a wildcard; add its concrete actions to "
                    "cdk/iam.py NARROWED_ACTIONS (or grant explicit actions instead)"
                )
            replacement: tuple[str, ...] | list[Any] = NARROWED_ACTIONS[action]
        else:
            replacement = [action]
        out.extend(a for a in replacement if a not in out)
    return out


def narrow_document(document: dict[str, Any]) -> dict[str, Any]:
    """A resolved policy document with every statement's actions narrowed."""
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    narrowed = []
    for statement in statements:
        if "Action" in statement:
            actions = narrow_actions(statement["Action"])
            if not actions:  # the statement only held dropped wildcards
                continue
            statement = {**statement, "Action": actions}
        narrowed.append(statement)
    return {**document, "Statement": narrowed}


@jsii.implements(IAspect)
class NoWildcardActions:
    """Aspect: narrow the actions of every identity policy in the tree."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy)):
            stack = Stack.of(node)
            node.policy_document = narrow_document(stack.resolve(node.policy_document))
        elif isinstance(node, iam.CfnRole) and node.policies is not None:
            stack = Stack.of(node)
            policies = stack.resolve(node.policies)
            node.policies = [
                {**p, "PolicyDocument": narrow_document(p["PolicyDocument"])} for p in policies
            ]
        elif (
            isinstance(node, CfnResource)
            and node.cfn_resource_type == "AWS::IAM::Role"
            and node.node.scope is not None
            and node.node.scope.node.id.startswith(AUTO_DELETE_PROVIDER)
        ):
            _narrow_auto_delete_role(node)


#: construct id prefix of CDK's singleton provider behind ``autoDeleteObjects``
AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjects"


def auto_delete_buckets(stack: Stack) -> list[s3.Bucket]:
    """Buckets created with ``auto_delete_objects=True`` (dev mode)."""
    return [
        c
        for c in stack.node.find_all()
        if isinstance(c, s3.Bucket) and c.node.try_find_child("AutoDeleteObjectsCustomResource")
    ]


def _narrow_auto_delete_role(role: CfnResource) -> None:
    """Rewrite the dev-mode auto-delete provider's inline policy with concrete actions.

    That role is a raw ``CfnResource`` whose policy is a lazy value jsii cannot hand
    to Python, so it is rebuilt from what the handler does: deny new writes
    (PutBucketPolicy), check the bucket's tag, list and delete every object version.
    """
    buckets = auto_delete_buckets(Stack.of(role))
    if not buckets:
        return
    role.add_property_override(
        "Policies",
        [
            {
                "PolicyName": "Inline",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:PutBucketPolicy",
                                "s3:GetBucketTagging",
                                "s3:ListBucket",
                                "s3:ListBucketVersions",
                                "s3:DeleteObject",
                                "s3:DeleteObjectVersion",
                            ],
                            "Resource": [
                                arn
                                for b in buckets
                                for arn in (b.bucket_arn, b.arn_for_objects("*"))
                            ],
                        }
                    ],
                },
            }
        ],
    )

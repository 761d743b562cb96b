"""No wildcard IAM actions: an aspect that narrows CDK's grant shorthands.

CDK's ``grant*`` helpers (used inside BucketDeployment, autoDeleteObjects and KMS/S3
grants) write action wildcards such as ``s3:GetObject*`` or ``kms:GenerateDataKey*``.
SPEC §9 asks for least privilege, so before the template is written every policy's
actions are rewritten to the concrete actions those helpers actually call. A wildcard
without a known mapping fails the synth, so none can slip through unnoticed.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnResource, IAspect, Stack
from aws_cdk import aws_iam as iam
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
        elif isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::IAM::Role":
            # custom-resource provider roles (e.g. autoDeleteObjects) are raw CfnResources
            stack = Stack.of(node)
            props = stack.resolve(node._cfn_properties)
            for i, policy in enumerate(props.get("Policies") or []):
                node.add_property_override(
                    f"Policies.{i}.PolicyDocument", narrow_document(policy["PolicyDocument"])
                )

"""cdk-nag acknowledgments: every accepted finding, with the reason it is accepted.

cdk-nag v3 runs as a CDK policy-validation plugin; a finding is accepted with
``Validations.of(construct).acknowledge`` (one ID per finding, e.g.
``AwsSolutions-IAM5[Resource::…]``). The plugin is created with
``write_suppressions_to_cloud_formation`` so the template keeps the audit trail.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

#: how cdk-nag v3 names its AwsSolutions findings in the validation report
RULE_PREFIX = "AwsSolutions::AwsSolutions-"


def acknowledge(scope: IConstruct, findings: dict[str, str]) -> None:
    """Accept ``{rule: reason}`` on ``scope`` and everything below it.

    ``rule`` is written without the pack prefix, e.g. ``"S1"`` or
    ``"IAM5[Resource::*]"``; every reason must say why the finding is acceptable.
    """
    for rule, reason in findings.items():
        if len(reason.strip()) < 20:
            raise ValueError(f"cdk-nag acknowledgment {rule} needs a real reason")
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=RULE_PREFIX + rule, reason=reason) for rule, reason in findings.items())
    )


def acknowledge_cdk_internals(stack: Stack) -> None:
    """Findings on the singleton functions CDK itself adds at stack level.

    Their runtime and (for the dev-mode auto-delete provider) managed policy are
    chosen by CDK and cannot be configured; ``cdk.iam`` already narrows their actions.
    """
    from cdk.iam import AUTO_DELETE_PROVIDER, auto_delete_buckets

    for child in stack.node.children:
        cdk_ids = ("Custom::CDKBucketDeployment", AUTO_DELETE_PROVIDER)
        if not child.node.id.startswith(cdk_ids):
            continue
        findings = {
            "L1": "CDK's own custom-resource handler; CDK chooses and upgrades its runtime. "
            "ownstats' own functions use the newest Python runtime.",
        }
        if child.node.id.startswith(AUTO_DELETE_PROVIDER):
            findings["IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                     "AWSLambdaBasicExecutionRole]"] = (
                "Dev mode only (-c dev=true): CDK's auto-delete provider role carries this "
                "managed policy for its logs; production stacks have no such role."
            )  # fmt: skip
            for bucket in auto_delete_buckets(stack):
                logical_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
                findings[f"IAM5[Resource::<{logical_id}.Arn>/*]"] = (
                    "Dev mode only: emptying a bucket on `cdk destroy` deletes every object in it."
                )
        acknowledge(child, findings)

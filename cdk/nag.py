"""cdk-nag acknowledgments: every accepted finding, with the reason it is accepted.

cdk-nag v3 runs as a CDK policy-validation plugin; a finding is accepted with
``Validations.of(construct).acknowledge`` (one ID per finding, e.g.
``AwsSolutions-IAM5[Resource::…]``). The plugin is created with
``write_suppressions_to_cloud_formation`` so the template keeps the audit trail.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
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

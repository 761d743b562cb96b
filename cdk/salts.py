"""Where the daily visitor-hash salts live (docs/PROTOCOL.md, privacy) and who may touch them.

The processor creates ``<prefix><YYYY-MM-DD>`` itself, the first time a day's salt is
needed: an Advanced-tier SecureString (encrypted with the account's ``aws/ssm`` key)
put with ``Overwrite=False`` so concurrent processors agree on one value, and with an
``Expiration`` parameter policy about 48 h ahead, so SSM deletes the salt on its own.
Nothing is created here at deploy time — a salt made in advance would outlive its day
— which is also why no cleanup job exists: the expiration policy is the cleanup.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct


class SaltStore(Construct):
    """Exposes ``prefix`` (for the processor's environment) and ``grant_use``."""

    def __init__(self, scope: Construct, construct_id: str, *, namespace: str) -> None:
        super().__init__(scope, construct_id)
        self.prefix = f"/ownstats/{namespace}/salts/"
        stack = Stack.of(self)
        self.parameters_arn = stack.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=f"{self.prefix.strip('/')}/*",
        )

    @property
    def parameters_arn_nag(self) -> str:
        """The grant's resource as cdk-nag prints it (for the acknowledgment)."""
        return f"arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter{self.prefix}*"

    def grant_use(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create-if-absent and read the day's salt; nothing else (no delete, no list)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["ssm:GetParameter", "ssm:PutParameter"],
            resource_arns=[self.parameters_arn],
        )

"""The execution-role recipe shared by ownstats' own Lambda functions.

No ``AWSLambdaBasicExecutionRole`` managed policy (it grants log writes on ``*``):
each function gets its own log group with a retention, and a role that may write to
that log group only.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

#: newest Python in this aws-cdk-lib; the processor's wheels are built for it
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = PYTHON_RUNTIME.name.removeprefix("python")


def execution_role(
    scope: Construct, construct_id: str, *, description: str
) -> tuple[iam.Role, logs.LogGroup]:
    """A Lambda role allowed to write only to its own (one month) log group."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return role, log_group

"""Athena: the workgroup users query through, its results bucket, and the views.

The workgroup enforces its configuration (results location and encryption cannot be
overridden by a client) and cancels any query that would scan more than
``scan_limit_gb`` — a guard against a runaway ``SELECT *`` at $5/TB.

Views come from ``athena_views.load_views()`` (the one definition of the SQL) and are
created by a small custom resource that runs each ``CREATE OR REPLACE VIEW`` through
Athena in dependency order and fails the deployment if one does not compile; see
``view_deployer/index.py`` for why not Glue VIRTUAL_VIEW tables or NamedQueries.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from athena_views import create_view_statement, load_views
from cdk.buckets import secure_bucket
from cdk.functions import PYTHON_RUNTIME, execution_role
from cdk.nag import acknowledge
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS

RESULTS_PREFIX = "athena/"
#: 18 small DDL statements take ~1-2 s each; 5 min leaves ample headroom
VIEW_DEPLOYER_TIMEOUT = Duration.minutes(5)
#: how long CloudFormation waits for the deployer's answer (default: one hour). The
#: handler always answers, at the latest 20 s before its Lambda timeout; one more
#: minute covers the response PUT. Only a crash before the handler runs (a broken
#: deployment package) is left to this timeout, which then fails the stack in 6 min.
VIEW_DEPLOYER_SERVICE_TIMEOUT = VIEW_DEPLOYER_TIMEOUT.plus(Duration.minutes(1))



def default_database_access(stack: Stack) -> iam.PolicyStatement:
    """What Athena needs of every caller whose Glue access is narrowed to its own
    database: the catalog and the ``default`` database ("Fine-grained access to
    databases and tables in the AWS Glue Data Catalog": access to both is mandatory).
    Read-only, and the default database holds nothing of ours."""
    return iam.PolicyStatement(
        actions=["glue:GetDatabase", "glue:GetDatabases"],
        resources=[
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name="default"),
        ],
    )

class Analytics(Construct):
    """Exposes ``workgroup_name``, ``results_bucket``, ``view_names``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace: str,
        database_name: str,
        tables: list[glue.CfnTable],
        table_names: list[str],
        log_bucket: s3.IBucket,
        results_retention_days: int,
        scan_limit_gb: int,
        dev: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.results_bucket = secure_bucket(
            self, "Results", dev=dev, access_logs=log_bucket,
            access_logs_prefix="s3-access/results/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-query-results",
                    expiration=Duration.days(results_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )  # fmt: skip

        self.workgroup_name = namespace
        workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="ownstats: query the events table and views here",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=scan_limit_gb * 1_000_000_000,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results_bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

        views = load_views()
        self.view_names = [v.name for v in views]
        role, log_group = execution_role(
            self, "ViewDeployer", description="ownstats: creates the Athena views on deploy"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["athena:StartQueryExecution", "athena:GetQueryExecution"],
                resources=[
                    stack.format_arn(service="athena", resource="workgroup",
                                     resource_name=self.workgroup_name)
                ],
            )
        )  # fmt: skip
        role.add_to_policy(default_database_access(stack))
        role.add_to_policy(
            iam.PolicyStatement(
                # what Athena calls on the caller's behalf for CREATE/DROP VIEW
                actions=[
                    "glue:GetDatabase", "glue:GetTable", "glue:GetTables",
                    "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
                ],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database",
                                     resource_name=database_name),
                    *(
                        stack.format_arn(service="glue", resource="table",
                                         resource_name=f"{database_name}/{name}")
                        for name in [*table_names, *self.view_names]
                    ),
                ],
            )
        )  # fmt: skip
        role.add_to_policy(
            iam.PolicyStatement(
                # Athena writes each statement's (empty) result file as the caller
                actions=[
                    "s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
                ],
                resources=[
                    self.results_bucket.bucket_arn,
                    self.results_bucket.arn_for_objects(f"{RESULTS_PREFIX}*"),
                ],
            )
        )  # fmt: skip
        results_id = stack.get_logical_id(
            self.results_bucket.node.default_child  # type: ignore[arg-type]
        )
        acknowledge(
            role,
            {
                f"IAM5[Resource::<{results_id}.Arn>/"
                f"{RESULTS_PREFIX}*]": "Athena writes a result object with a generated name "
                "per statement under the workgroup's results prefix.",
            },
        )
        handler = lambda_.Function(
            self,
            "ViewDeployer",
            description="ownstats: runs CREATE OR REPLACE VIEW for athena_views/*.sql",
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "view_deployer")),
            timeout=VIEW_DEPLOYER_TIMEOUT,
            memory_size=128,
            role=role,
            log_group=log_group,
        )
        handler.node.add_dependency(role)
        self.views = CustomResource(
            self,
            "Views",
            service_token=handler.function_arn,
            resource_type="Custom::AthenaViews",
            service_timeout=VIEW_DEPLOYER_SERVICE_TIMEOUT,
            properties={
                "Database": database_name,
                "WorkGroup": self.workgroup_name,
                # views like page_views (SELECT *) fix their column list at creation, so a
                # schema change must re-run them even when no .sql file changed
                "EventsSchema": hashlib.sha256(
                    json.dumps([EVENT_COLUMNS, PARTITION_KEYS]).encode()
                ).hexdigest()[:16],
                "Views": [
                    {"Name": v.name, "Statement": create_view_statement(v, dialect="athena")}
                    for v in views
                ],
            },
        )
        self.views.node.add_dependency(workgroup)
        for table in tables:
            self.views.node.add_dependency(table)

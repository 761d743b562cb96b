"""The hosted dashboard: a signed-in page on CloudFront, its API on Lambda over Athena.

Pieces, and why each is the way it is:

- Users: a Cognito user pool with self sign-up off (only an administrator creates
  users; ``-c admin_email`` and ``-c dashboard_users`` are invited at deploy time, with
  a temporary password by e-mail), TOTP MFA required (the dashboard shows every site's
  traffic), and Cognito's managed login on a prefix domain, so ownstats holds no
  password and renders no sign-in form.
- App client: public (no secret; a page cannot keep one), authorization code flow only,
  PKCE done by ``auth.js``; callback and sign-out URL = the dashboard URL.
- A second CloudFront distribution on its default ``*.cloudfront.net`` name: the beacon
  distribution keeps its cache, headers and real-time log untouched (a dashboard
  behaviour there would share its CORS ``*`` headers and its log), and the dashboard
  needs no certificate. Its default behaviour serves the page from a private bucket
  (origin access control); ``/api/*`` goes to the HTTP API uncached, so page and API
  share one origin (no CORS) and the Authorization header reaches API Gateway.
- An API Gateway HTTP API ($1/million requests) whose only route, ``GET /api/{proxy+}``,
  requires a Cognito JWT (audience = the app client, issuer = the pool); throttled so a
  leaked token cannot run up an Athena bill.
- The Lambda (``ownstats.dashboard.hosted``): local mode's routes over Athena, with a
  one-minute memory cache and Athena result reuse. Its role reads only the events
  table, the views, the lake's ``events/`` objects and the workgroup's results prefix.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from cdk.analytics import default_database_access
from cdk.buckets import secure_bucket
from cdk.bundling import BUILD_ROOT
from cdk.dashboard_page import CONFIG_KEY, CSP, stage_hosted_static
from cdk.functions import PYTHON_RUNTIME, execution_role
from cdk.headers import security_headers
from cdk.nag import acknowledge
from lake_compactor import ROLLUPS_PREFIX

HANDLER = "ownstats.dashboard.hosted.handler"
#: the environment the handler reads (ownstats.dashboard.hosted, kept in step by a test)
WORKGROUP_ENV = "OWNSTATS_WORKGROUP"
DATABASE_ENV = "OWNSTATS_DATABASE"
DOMAINS_ENV = "OWNSTATS_DOMAINS"
CACHE_TTL_ENV = "OWNSTATS_CACHE_TTL_S"
REUSE_MINUTES_ENV = "OWNSTATS_REUSE_MINUTES"
TIME_ZONE_ENV = "OWNSTATS_TIME_ZONE"
LAKE_BUCKET_ENV = "OWNSTATS_LAKE_BUCKET"
#: ``archive`` on a stack without the real-time path (-c realtime=false)
INPUT_ENV = "OWNSTATS_INPUT"
#: the funnels, as JSON (-c funnels)
FUNNELS_ENV = "OWNSTATS_FUNNELS"
CACHE_TTL_S = 60
MEMORY_MB = 1769
REUSE_MINUTES = 1
API_PATH = "/api/*"
#: the Stats API's routes: a Bearer API key instead of a Cognito token
STATS_API_PATH = "/api/v2/{proxy+}"
#: the object holding the API keys' hashes (ownstats.dashboard.api_keys.S3_KEY)
API_KEYS_OBJECT = "settings/api-keys.json"
#: the funnels the owner edits with `ownstats funnel add --stack` (funnels.S3_OBJECT)
FUNNELS_OBJECT = "settings/funnels.json"
#: steady requests per second and burst the API accepts (a page load sends ~20)
THROTTLE_RATE = 20
THROTTLE_BURST = 50
DASHBOARD_LOG_PREFIX = "cloudfront-dashboard/"


def user_logical_id(email: str) -> str:
    """A stable construct id per invited address (adding one user never replaces another)."""
    return "User" + hashlib.sha256(email.encode()).hexdigest()[:10]


#: Cognito refuses a user pool domain prefix containing these ("Configuring a user pool
#: domain"): laws.com, paws.org, draws.io or amazonfan.shop rolled the whole stack back
_RESERVED_IN_PREFIX = re.compile(r"aws|amazon|cognito")


def cognito_prefix_base(namespace: str) -> str:
    """The readable part of the sign-in domain's prefix: the stack's name in Cognito's
    alphabet (lower-case letters, digits, hyphens; 40 characters here), with every
    reserved word broken by a hyphen (``ownstats-laws-com`` → ``ownstats-law-s-com``).
    The stack id's UUID group appended to it is hex, which holds none of those words."""
    base = re.sub(r"[^a-z0-9-]", "-", namespace.lower())
    while match := _RESERVED_IN_PREFIX.search(base):
        cut = match.start() + 2  # a-ws, am-azon, co-gnito
        base = base[:cut] + "-" + base[cut:]
    return base[:40].strip("-")


class HostedDashboard(Construct):
    """Exposes ``url``, ``user_pool``, ``client``, ``api``, ``function``, ``distribution``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace: str,
        asset_dir: Path,
        domains: tuple[str, ...],
        users: tuple[str, ...],
        time_zone: str = "",
        archive_input: bool = False,
        funnels: str = "",
        workgroup_name: str,
        database_name: str,
        table_names: list[str],
        results_bucket: s3.IBucket,
        results_prefix: str,
        lake_bucket: s3.IBucket,
        events_prefix: str,
        log_bucket: s3.IBucket,
        dev: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        removal = RemovalPolicy.DESTROY if dev else RemovalPolicy.RETAIN

        # -- the page's bucket and distribution (the API origin is added below) ---------
        self.bucket = secure_bucket(
            self, "Bucket", dev=dev, access_logs=log_bucket,
            access_logs_prefix="s3-access/dashboard/",
        )  # fmt: skip
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=f"{namespace}-dashboard",
            description="ownstats: the dashboard's JSON/CSV API (Cognito sign-in required)",
            create_default_stage=True,
        )
        api_domain = f"{self.api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"

        prefix_base = cognito_prefix_base(namespace)
        # globally unique per region: the stack id's first UUID group makes it so
        stack_uuid = Fn.select(2, Fn.split("/", stack.stack_id))
        domain_prefix = f"{prefix_base}-{Fn.select(0, Fn.split('-', stack_uuid))}"
        # the sign-in origin written out, not the domain's attribute: the distribution
        # (its CSP) must not depend on the pool, whose invitation names the dashboard URL
        login_origin = f"https://{domain_prefix}.auth.{stack.region}.amazoncognito.com"
        self.distribution = self._distribution(api_domain, log_bucket, login_origin)
        self.url = f"https://{self.distribution.distribution_domain_name}/"

        # -- users ----------------------------------------------------------------------
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"{namespace}-dashboard",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(7),
            ),
            user_invitation=cognito.UserInvitationConfig(
                email_subject=f"Your ownstats dashboard for {', '.join(domains)}",
                email_body=(
                    f"You can now see the statistics of {', '.join(domains)} at "
                    f"{self.url} . Sign in with {{username}} and the temporary password "
                    "{####} within 7 days; you then choose your own password and set up "
                    "an authenticator app."
                ),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=removal,
        )
        self.domain = self.user_pool.add_domain(
            "Login",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )
        self.client = self.user_pool.add_client(
            "Dashboard",
            user_pool_client_name=f"{namespace}-dashboard",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[self.url],
                logout_urls=[self.url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(1),  # unused by the page; the minimum
            enable_token_revocation=True,
        )
        cognito.CfnManagedLoginBranding(
            self,
            "LoginBranding",
            user_pool_id=self.user_pool.user_pool_id,
            client_id=self.client.user_pool_client_id,
            use_cognito_provided_values=True,
        )
        for email in users:
            cognito.CfnUserPoolUser(
                self,
                user_logical_id(email),
                user_pool_id=self.user_pool.user_pool_id,
                username=email,
                user_attributes=[
                    cognito.CfnUserPoolUser.AttributeTypeProperty(name="email", value=email),
                    cognito.CfnUserPoolUser.AttributeTypeProperty(
                        name="email_verified", value="true"
                    ),
                ],
                desired_delivery_mediums=["EMAIL"],
            )

        # -- the function and its least-privilege role ----------------------------------
        self.role, log_group = execution_role(
            self,
            "Function",
            description="ownstats: answers the dashboard's API from rollups and Athena",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="ownstats: the dashboard API (local mode's routes) on rollups and Athena",
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(asset_dir)),
            # CPU scales with memory: DuckDB answers the page from rollups and the recent
            # days' events in the function; 1,769 MB is one full vCPU
            memory_size=MEMORY_MB,
            timeout=Duration.seconds(29),  # API Gateway's own limit is 30 s
            role=self.role,
            log_group=log_group,
            environment={
                WORKGROUP_ENV: workgroup_name,
                DATABASE_ENV: database_name,
                DOMAINS_ENV: ",".join(domains),
                CACHE_TTL_ENV: str(CACHE_TTL_S),
                REUSE_MINUTES_ENV: str(REUSE_MINUTES),
                LAKE_BUCKET_ENV: lake_bucket.bucket_name,
                **({TIME_ZONE_ENV: time_zone} if time_zone else {}),
                **({INPUT_ENV: "archive"} if archive_input else {}),
                **({FUNNELS_ENV: funnels} if funnels else {}),
            },
        )
        self._grant_queries(
            stack, workgroup_name=workgroup_name, database_name=database_name,
            table_names=table_names, results_bucket=results_bucket,
            results_prefix=results_prefix, lake_bucket=lake_bucket, events_prefix=events_prefix,
        )  # fmt: skip

        # -- the API: one route, JWT required ------------------------------------------
        issuer = (
            f"https://cognito-idp.{stack.region}.{stack.url_suffix}/{self.user_pool.user_pool_id}"
        )
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "Cognito",
            issuer,
            jwt_audience=[self.client.user_pool_client_id],
            authorizer_name="cognito",
            identity_source=["$request.header.Authorization"],
        )
        integration = integrations.HttpLambdaIntegration("Lambda", self.function)
        self.api.add_routes(
            path="/api/{proxy+}",
            methods=[apigw.HttpMethod.GET],
            integration=integration,
            authorizer=self.authorizer,
        )
        # the Stats API (docs/API.md): scripts send an API key, not a Cognito token; the
        # function checks the key against the hashes in the lake bucket and rate-limits it
        keyed = self.api.add_routes(
            path=STATS_API_PATH,
            methods=[apigw.HttpMethod.POST],
            integration=integration,
        )
        for route in keyed:
            acknowledge(
                route,
                {
                    "APIG4": "The Stats API authenticates with the owner's API keys, "
                    "checked in the function against their SHA-256 hashes (a Cognito "
                    "token cannot be sent by a script or Grafana); no key, no data.",
                },
            )
        self._stage_settings(removal)

        # -- the page ------------------------------------------------------------------
        deploy_role, deploy_logs = execution_role(
            self, "Deploy", description="ownstats: uploads the dashboard page on deploy"
        )
        s3deploy.BucketDeployment(
            self,
            "DeployPage",
            sources=[
                s3deploy.Source.asset(str(stage_hosted_static(BUILD_ROOT))),
                s3deploy.Source.json_data(
                    CONFIG_KEY,
                    {
                        "authority": self.domain.base_url(),
                        "clientId": self.client.user_pool_client_id,
                        "redirectUri": self.url,
                        "scopes": "openid email",
                    },
                ),
            ],
            destination_bucket=self.bucket,
            # every file is small and read once per visit: never stale after a deploy
            cache_control=[s3deploy.CacheControl.no_cache()],
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,  # its own handler (and role), not the collector's singleton
            role=deploy_role,
            log_group=deploy_logs,
        )
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            deploy_role,
            {
                "IAM5[Resource::arn:<AWS::Partition>:s3:::"
                "cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]": "Read access to "
                "the CDK asset bucket holding the page's zip (CDK's own grant; the object "
                "key is a content hash known only at publish time).",
                f"IAM5[Resource::<{bucket_id}.Arn>/*]": "The upload writes (and prunes) the "
                "page, its scripts and its sign-in settings in the dashboard bucket.",
                "IAM5[Resource::*]": "cloudfront:CreateInvalidation and GetInvalidation, "
                "granted by CDK's BucketDeployment on '*'; only used to invalidate the "
                "dashboard page after a deploy.",
            },
        )
        acknowledge(
            self.user_pool,
            {
                "COG8": "The Plus plan costs $0.02 per user a month with no free tier, for "
                "threat protection; Essentials (10,000 users a month free) with admin-only "
                "sign-up, a 12-character password policy and required TOTP MFA suffices.",
            },
        )
        CfnOutput(stack, "DashboardUrl", value=self.url,
                  description="The dashboard; sign in with the invited e-mail address")  # fmt: skip
        CfnOutput(stack, "DashboardUserPool", value=self.user_pool.user_pool_id,
                  description="Cognito user pool of the dashboard's users "
                  "(aws cognito-idp admin-create-user --user-pool-id …)")  # fmt: skip

    def _distribution(
        self, api_domain: str, log_bucket: s3.IBucket, login_origin: str
    ) -> cloudfront.Distribution:
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="ownstats: security headers of the dashboard page",
            security_headers_behavior=security_headers(CSP.format(login=login_origin)),
        )
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="ownstats dashboard (page + signed-in API)",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
            ),
            additional_behaviors={
                API_PATH: cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(
                        api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY
                    ),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    # POST: the Stats API's queries (/api/v2/…); the rest are GETs
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    # answers depend on the signed-in user's token: never cached at the edge
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # forwards Authorization and the query string, not Host (API Gateway
                    # routes on its own host name)
                    origin_request_policy=(
                        cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
                    ),
                    response_headers_policy=headers,
                    compress=True,
                )
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_ipv6=True,
            enable_logging=True,
            log_bucket=log_bucket,
            # not the collector's prefix: the access_logs table reads that one
            log_file_prefix=DASHBOARD_LOG_PREFIX,
            log_includes_cookies=False,
        )
        acknowledge(
            distribution,
            {
                "CFR1": "The site owner's team signs in from wherever they travel; Cognito "
                "sign-in with required MFA guards the data, not the viewer's country.",
                "CFR2": "WAF costs ~$5+/month fixed; every API request needs a valid "
                "Cognito token and the API is throttled, the rest is three static files.",
                "CFR4": "The dashboard uses the default *.cloudfront.net certificate, whose "
                "TLS policy CloudFront fixes; no custom domain means no certificate to manage.",
            },
        )
        return distribution

    def _stage_settings(self, removal: RemovalPolicy) -> None:
        """Access log and throttling on the API's default stage."""
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=removal
        )
        stage = self.api.default_stage
        if stage is None:
            raise RuntimeError("the HTTP API has no default stage (CDK changed?)")
        cfn_stage: apigw.CfnStage = stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn,
            # who (the user's Cognito id) asked what, and how it went; no IP address
            format=(
                '{"requestId":"$context.requestId","time":"$context.requestTime",'
                '"route":"$context.routeKey","path":"$context.path",'
                '"status":"$context.status","latencyMs":"$context.responseLatency",'
                '"user":"$context.authorizer.claims.sub",'
                '"authError":"$context.authorizer.error"}'
            ),
        )
        cfn_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=THROTTLE_RATE, throttling_burst_limit=THROTTLE_BURST
        )

    def _grant_queries(
        self, stack: Stack, *, workgroup_name: str, database_name: str, table_names: list[str],
        results_bucket: s3.IBucket, results_prefix: str, lake_bucket: s3.IBucket,
        events_prefix: str,
    ) -> None:  # fmt: skip
        """Read-only Athena access to the events table and the views, nothing else."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "athena:StartQueryExecution", "athena:GetQueryExecution",
                    "athena:GetQueryResults", "athena:StopQueryExecution",
                ],
                resources=[stack.format_arn(service="athena", resource="workgroup",
                                            resource_name=workgroup_name)],
            )
        )  # fmt: skip
        self.role.add_to_policy(default_database_access(stack))
        self.role.add_to_policy(
            iam.PolicyStatement(
                # what Athena reads of the catalog on the caller's behalf for a SELECT
                actions=["glue:GetDatabase", "glue:GetTable"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database",
                                     resource_name=database_name),
                    *(stack.format_arn(service="glue", resource="table",
                                       resource_name=f"{database_name}/{name}")
                      for name in table_names),
                ],
            )
        )  # fmt: skip
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[lake_bucket.bucket_arn],
                # events/ for Athena and the recent days; rollups/ is read by key only
                conditions={"StringLike": {"s3:prefix": [f"{events_prefix}*"]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[results_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{results_prefix}*"]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation"],
                resources=[lake_bucket.bucket_arn, results_bucket.bucket_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    lake_bucket.arn_for_objects(f"{events_prefix}*"),
                    lake_bucket.arn_for_objects(f"{ROLLUPS_PREFIX}*"),
                    # the Stats API keys' hashes (ownstats api-key create --stack)
                    lake_bucket.arn_for_objects(API_KEYS_OBJECT),
                    # the funnels (ownstats funnel add --stack)
                    lake_bucket.arn_for_objects(FUNNELS_OBJECT),
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                # Athena writes each query's result as the caller, then the caller reads it
                actions=[
                    "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                resources=[results_bucket.arn_for_objects(f"{results_prefix}*")],
            )
        )  # fmt: skip
        lake_id = stack.get_logical_id(lake_bucket.node.default_child)  # type: ignore[arg-type]
        results_id = stack.get_logical_id(
            results_bucket.node.default_child  # type: ignore[arg-type]
        )
        acknowledge(
            self.role,
            {
                f"IAM5[Resource::<{lake_id}.Arn>/{events_prefix}*]": "Athena reads the "
                "lake's Parquet objects (keys generated per Firehose delivery and per "
                "compaction) under events/, as the function itself does for the recent days.",
                f"IAM5[Resource::<{lake_id}.Arn>/{ROLLUPS_PREFIX}*]": "The function reads "
                "the compactor's rollup objects (one per view and month) and their index "
                "under rollups/; read only.",
                f"IAM5[Resource::<{results_id}.Arn>/{results_prefix}*]": "Athena writes a "
                "result object with a generated name per query under the workgroup's "
                "results prefix, which the function then reads.",
            },
        )

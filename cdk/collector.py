"""The collector: the tracker files behind CloudFront, and the beacon's real-time log.

A page loads ``/hello.js`` (short TTL, invalidated on every deploy) which requests
``/hello.gif?v=1&…``. CloudFront answers the gif from its edge cache — the query string
is left out of the cache key and never forwarded — yet the real-time log records every
viewer request, cache hits included, so every beacon reaches Kinesis without the origin
ever seeing one. Browsers get ``Cache-Control: no-store`` for the gif so they always ask.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from cdk.buckets import secure_bucket
from cdk.bundling import BUILD_ROOT
from cdk.functions import execution_role
from cdk.headers import security_headers
from cdk.nag import acknowledge
from stream_processor.fields import REALTIME_LOG_FIELDS

TRACKER_JS_PATH = "/hello.js"
BEACON_PATH = "/hello.gif"


class TrackerNotBuiltError(FileNotFoundError):
    """The built tracker is missing; the message says how to build it."""


def _stage(source: Path, kind: str) -> Path:
    """Copy one built file into its own directory (a BucketDeployment source is a dir)."""
    if not source.is_file():
        raise TrackerNotBuiltError(
            f"{source} is missing: build the tracker first with `python -m tracker.build` "
            "(from the repository root), then run cdk synth/deploy again."
        )
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target_dir = BUILD_ROOT / "tracker" / f"{kind}-{digest}"
    if not (target_dir / source.name).is_file():
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target_dir / source.name)
    return target_dir


class Collector(Construct):
    """Exposes ``bucket``, ``distribution``, ``domain_name`` (what the script tag uses)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stream: kinesis.IStream | None,
        log_bucket: s3.IBucket,
        log_prefix: str,
        tracker_js: Path,
        tracker_gif: Path,
        tracker_domain: str | None,
        certificate_arn: str | None,
        dev: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        js_dir = _stage(tracker_js, "js")  # fail before building anything else
        gif_dir = _stage(tracker_gif, "gif")

        self.bucket = secure_bucket(
            self,
            "Bucket",
            dev=dev,
            access_logs=log_bucket,
            access_logs_prefix="s3-access/collector/",
        )
        origin = origins.S3BucketOrigin.with_origin_access_control(self.bucket)

        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="ownstats: security and CORS headers for the tracker files",
            # hello.js sends its beacons as plain CORS GETs (no `no-cors` bytes in the
            # tracker); this answers them, and lets sites load hello.js with SRI.
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_credentials=False,
                access_control_allow_headers=["*"],  # CloudFront needs one; no preflight happens
                access_control_allow_methods=["GET", "HEAD"],
                access_control_allow_origins=["*"],
                origin_override=True,
            ),
            # the beacon's answers (a GIF, a script) load nothing themselves
            security_headers_behavior=security_headers(
                "default-src 'none'; frame-ancestors 'none'"
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    # sites that set Cross-Origin-Embedder-Policy can still load the tracker
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Resource-Policy",
                        value="cross-origin",
                        override=True,
                    )
                ]
            ),
        )

        # The beacon: cached at the edge for a day regardless of the origin's no-store
        # (a minimum TTL > 0 wins over no-store), with nothing but the path in the key.
        beacon_cache = cloudfront.CachePolicy(
            self,
            "BeaconCache",
            comment="ownstats: hello.gif cached at the edge, query string logged not keyed",
            min_ttl=Duration.days(1),
            default_ttl=Duration.days(1),
            max_ttl=Duration.days(365),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
        )
        # no stream (-c realtime=false): no real-time log; the standard logs below are
        # then the only record of the beacons, read by the archive repair
        self.realtime_log: cloudfront.RealtimeLogConfig | None = None
        if stream is not None:
            self.realtime_log = cloudfront.RealtimeLogConfig(
                self,
                "RealtimeLog",
                end_points=[cloudfront.Endpoint.from_kinesis_stream(stream)],
                fields=list(REALTIME_LOG_FIELDS),
                sampling_rate=100,  # every beacon: sampling would lose page views
            )
            self._wait_for_role_policy(self.realtime_log)

        custom_domain: dict[str, object] = {}
        if tracker_domain and certificate_arn:
            custom_domain = {
                "domain_names": [tracker_domain],
                "certificate": acm.Certificate.from_certificate_arn(
                    self, "Certificate", certificate_arn
                ),
                "minimum_protocol_version": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            }

        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="ownstats collector (tracker + beacon)",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
            ),
            additional_behaviors={
                BEACON_PATH: cloudfront.BehaviorOptions(
                    origin=origin,
                    # HTTPS only, no redirect: an http:// beacon would otherwise be logged
                    # twice (301 + 200) under two request ids. hello.js always uses https.
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=beacon_cache,
                    response_headers_policy=headers,
                    compress=False,  # a 43-byte gif
                    realtime_log_config=self.realtime_log,
                )
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,
            enable_ipv6=True,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix=log_prefix,
            log_includes_cookies=False,
            **custom_domain,  # type: ignore[arg-type]
        )
        self.domain_name: str = tracker_domain or self.distribution.distribution_domain_name

        # Two deployments into one bucket: prune=False so neither deletes the other's file.
        # Both share CDK's singleton upload function; giving it our role keeps the
        # AWSLambdaBasicExecutionRole managed policy (logs on "*") out of the template.
        deploy_role, deploy_logs = execution_role(
            self, "TrackerDeploy", description="ownstats: uploads hello.js/hello.gif on deploy"
        )
        s3deploy.BucketDeployment(
            self,
            "DeployTrackerJs",
            sources=[s3deploy.Source.asset(str(js_dir))],
            destination_bucket=self.bucket,
            prune=False,
            content_type="application/javascript; charset=utf-8",
            cache_control=[
                s3deploy.CacheControl.set_public(),
                s3deploy.CacheControl.max_age(Duration.minutes(5)),
            ],
            distribution=self.distribution,
            distribution_paths=[TRACKER_JS_PATH],
            role=deploy_role,
            log_group=deploy_logs,
        )
        s3deploy.BucketDeployment(
            self,
            "DeployBeaconGif",
            sources=[s3deploy.Source.asset(str(gif_dir))],
            destination_bucket=self.bucket,
            prune=False,
            content_type="image/gif",
            cache_control=[s3deploy.CacheControl.from_string("no-store, max-age=0")],
            role=deploy_role,
            log_group=deploy_logs,
        )
        stack = Stack.of(self)
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            deploy_role,
            {
                "IAM5[Resource::arn:<AWS::Partition>:s3:::"
                "cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]": "Read access to "
                "the CDK asset bucket holding the tracker zip (CDK's own grant; the object "
                "key is a content hash known only at publish time).",
                f"IAM5[Resource::<{bucket_id}.Arn>/*]": "The "
                "upload writes hello.js and hello.gif into the collector bucket.",
                "IAM5[Resource::*]": "cloudfront:CreateInvalidation"
                " and GetInvalidation, granted by CDK's BucketDeployment on '*'; only used to "
                "invalidate /hello.js after a deploy.",
            },
        )

        findings = {
            "CFR1": "A beacon endpoint must answer visitors from every country; "
            "geo restriction would silently drop page views.",
            "CFR2": "WAF costs ~$5+/month fixed and per request; the distribution "
            "only serves two static files and the processor rejects bots and foreign domains.",
        }
        if not custom_domain:
            findings["CFR4"] = (
                "Without -c tracker_domain the default *.cloudfront.net certificate is used, "
                "whose TLS policy CloudFront fixes; with a custom domain TLSv1.2_2021 is enforced."
            )
        acknowledge(self.distribution, findings)

    @staticmethod
    def _wait_for_role_policy(realtime_log: cloudfront.RealtimeLogConfig) -> None:
        """Create the real-time log config only after its role's policy exists.

        The config references only the role's ARN, so CloudFormation may create it
        while the role still has no permissions; CloudFront checks at creation that it
        can write to the stream and fails. CDK creates that role (and its policy)
        inside the config's construct, so the L1 config gets a DependsOn on it.
        """
        config = realtime_log.node.default_child
        policies = [c for c in realtime_log.node.find_all() if isinstance(c, iam.CfnPolicy)]
        if config is None or not policies:
            raise RuntimeError("the real-time log role's policy was not found (CDK changed?)")
        for policy in policies:
            config.node.add_dependency(policy)

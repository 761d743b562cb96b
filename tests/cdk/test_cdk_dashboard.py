"""The hosted dashboard in the template: sign-in, the guarded API, the least-privilege role.

Reads the session's shared synth (conftest.py), except the one variant that must show
``-c hosted_dashboard=false`` leaves nothing of it behind, which needs a stack of its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_support import Synth

from athena_views import load_views
from cdk.app import build
from cdk.config import ConfigError, OwnstatsConfig
from cdk.dashboard import (
    CACHE_TTL_ENV,
    DATABASE_ENV,
    DOMAINS_ENV,
    HANDLER,
    LAKE_BUCKET_ENV,
    REUSE_MINUTES_ENV,
    WORKGROUP_ENV,
    user_logical_id,
)
from cdk.dashboard_page import (
    AUTH_SCRIPT,
    STATIC_DIR,
    HostedPageError,
    hosted_index_html,
    stage_hosted_static,
)
from ownstats.dashboard.api_keys import S3_KEY
from ownstats.dashboard.funnels import S3_OBJECT as FUNNELS_S3_OBJECT

pytestmark = pytest.mark.cdk

DASHBOARD_TYPES = (
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolUser",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Authorizer",
)


def _one(synth: Synth, cfn_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = synth.resources(cfn_type).items()
    return item


def _dashboard_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    (item,) = [(k, f) for k, f in synth.resources("AWS::Lambda::Function").items()
               if f["Properties"].get("Handler") == HANDLER]  # fmt: skip
    return item


def _joined(value: Any) -> str:
    """A template value as text, with references kept visible (``{Ref: X}`` → ``<X>``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_joined(v) for v in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value)


def test_user_pool_is_admin_only_with_mfa_and_invites_the_configured_users(synth: Synth) -> None:
    pool_id, pool = _one(synth, "AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["MfaConfiguration"] == "ON"
    assert props["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    invitation = _joined(props["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"])
    assert "{####}" in invitation and "{username}" in invitation
    assert "https://<DashboardDistribution" in invitation  # the mail links the dashboard
    users = synth.resources("AWS::Cognito::UserPoolUser")
    by_name = {u["Properties"]["Username"]: (k, u["Properties"]) for k, u in users.items()}
    assert set(by_name) == {"owner@example.com", "analyst@example.org"}  # lower-cased
    for email, (logical_id, user) in by_name.items():
        assert logical_id.startswith("Dashboard" + user_logical_id(email))
        assert user["DesiredDeliveryMediums"] == ["EMAIL"]
        assert user["UserPoolId"] == {"Ref": pool_id}


def test_app_client_is_public_code_flow_back_to_the_dashboard_url(synth: Synth) -> None:
    _, client = _one(synth, "AWS::Cognito::UserPoolClient")
    props = client["Properties"]
    assert props["AllowedOAuthFlows"] == ["code"]
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props.get("GenerateSecret", False) is False  # PKCE, no secret in a page
    url = synth.json["Outputs"]["DashboardUrl"]["Value"]
    assert props["CallbackURLs"] == [url]
    assert props["LogoutURLs"] == [url]
    assert _joined(url).startswith("https://<DashboardDistribution")
    assert props["SupportedIdentityProviders"] == ["COGNITO"]


def test_managed_login_on_a_unique_prefix_domain(synth: Synth) -> None:
    _, domain = _one(synth, "AWS::Cognito::UserPoolDomain")
    assert domain["Properties"]["ManagedLoginVersion"] == 2
    prefix = _joined(domain["Properties"]["Domain"])
    assert prefix.startswith("ownstats-example-com-") and "AWS::StackId" in prefix
    assert len(synth.resources("AWS::Cognito::ManagedLoginBranding")) == 1


def test_every_api_route_requires_the_cognito_jwt(synth: Synth) -> None:
    pool_id, _ = _one(synth, "AWS::Cognito::UserPool")
    client_id, _ = _one(synth, "AWS::Cognito::UserPoolClient")
    authorizer_id, authorizer = _one(synth, "AWS::ApiGatewayV2::Authorizer")
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "JWT"
    assert props["JwtConfiguration"]["Audience"] == [{"Ref": client_id}]
    assert _joined(props["JwtConfiguration"]["Issuer"]).endswith(f"/<{pool_id}>")
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    routes = {r["Properties"]["RouteKey"]: r["Properties"]
              for r in synth.resources("AWS::ApiGatewayV2::Route").values()}  # fmt: skip
    assert set(routes) == {"GET /api/{proxy+}", "POST /api/v2/{proxy+}"}
    assert routes["GET /api/{proxy+}"]["AuthorizationType"] == "JWT"
    assert routes["GET /api/{proxy+}"]["AuthorizerId"] == {"Ref": authorizer_id}
    # the Stats API: an API key checked by the function (test_hosted_stats_api.py), so
    # API Gateway has no authorizer there, and only POST reaches it
    assert routes["POST /api/v2/{proxy+}"].get("AuthorizationType", "NONE") == "NONE"
    _, stage = _one(synth, "AWS::ApiGatewayV2::Stage")
    assert stage["Properties"]["AccessLogSettings"]["DestinationArn"]
    assert stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def test_page_and_api_share_one_distribution_origin(synth: Synth) -> None:
    (config,) = [d["Properties"]["DistributionConfig"]
                 for d in synth.resources("AWS::CloudFront::Distribution").values()
                 if "dashboard" in d["Properties"]["DistributionConfig"]["Comment"]]  # fmt: skip
    assert config["DefaultRootObject"] == "index.html"
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert "POST" in api["AllowedMethods"]  # the Stats API
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    # AllViewerExceptHostHeader: Authorization and the query string reach API Gateway
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    origins = {o["Id"]: o for o in config["Origins"]}
    api_origin = origins[api["TargetOriginId"]]
    assert ".execute-api." in _joined(api_origin["DomainName"])
    page_origin = origins[config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert page_origin["OriginAccessControlId"]
    assert config["Logging"]["Prefix"] == "cloudfront-dashboard/"
    headers = synth.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    policies = [p["Properties"]["ResponseHeadersPolicyConfig"] for p in headers]
    (csp,) = [_joined(p["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])
              for p in policies if "dashboard" in p["Comment"]]  # fmt: skip
    assert "connect-src 'self' https://ownstats-example-com-" in csp
    assert ".amazoncognito.com" in csp and "script-src 'self'" in csp


def test_staged_page_has_every_file_it_references(tmp_path: Path) -> None:
    staged = stage_hosted_static(tmp_path)
    html = (staged / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="/_dash/([^"]+)"', html))
    assert {"app.js", "app.css", "auth.js"} <= referenced
    for name in referenced:
        assert (staged / "_dash" / name).is_file(), name
    assert (staged / "_dash" / "auth.js").read_bytes() == (STATIC_DIR / "auth.js").read_bytes()
    assert not (staged / "_dash" / "index.html").exists()


def test_page_upload_includes_auth_and_the_sign_in_settings(synth: Synth) -> None:
    deployments = synth.resources("Custom::CDKBucketDeployment").values()
    (deploy,) = [
        d["Properties"]
        for d in deployments
        if "Dashboard" in json.dumps(d["Properties"]["DestinationBucketName"])
    ]
    assert len(deploy["SourceObjectKeys"]) == 2  # the page's files + hosted-config.json
    markers = json.dumps(deploy.get("SourceMarkers", []))
    for ref in ("DashboardUsersLogin", "DashboardUsersDashboard", "DashboardDistribution"):
        assert ref in markers  # deploy-time values of the config auth.js reads
    assert deploy["DistributionPaths"] == ["/*"]


def test_function_runs_the_hosted_handler_on_the_stack_names(synth: Synth) -> None:
    _, function = _dashboard_function(synth)
    props = function["Properties"]
    assert props["Architectures"] == ["arm64"]
    assert props["Timeout"] < 30  # answers before API Gateway's 30 s limit
    env = props["Environment"]["Variables"]
    assert env[DOMAINS_ENV] == "example.com,blog.example.org"
    assert env[WORKGROUP_ENV] == "ownstats-example-com"
    assert env[DATABASE_ENV] == "ownstats_example_com"
    assert float(env[CACHE_TTL_ENV]) >= 30 and int(env[REUSE_MINUTES_ENV]) >= 1
    # the lake bucket: the function answers from its rollups and recent events itself
    (lake,) = [
        logical_id
        for logical_id, bucket in synth.resources("AWS::S3::Bucket").items()
        if "expire-delivery-errors" in json.dumps(bucket["Properties"])
    ]
    assert env[LAKE_BUCKET_ENV] == {"Ref": lake}


def test_function_role_is_read_only_and_least_privilege(synth: Synth) -> None:
    _, function = _dashboard_function(synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [p["Properties"]["PolicyDocument"]["Statement"]
                 for p in synth.resources("AWS::IAM::Policy").values()
                 if {"Ref": role_id} in p["Properties"]["Roles"]]  # fmt: skip
    granted: dict[str, set[str]] = {}
    for statement in policy:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]  # fmt: skip
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        for action in actions:
            granted.setdefault(action, set()).update(_joined(r) for r in resources)
        if actions == ["s3:ListBucket"]:
            assert statement["Condition"]["StringLike"]["s3:prefix"] in (["events/*"],
                                                                         ["athena/*"])  # fmt: skip
    assert set(granted) == {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
        "athena:StopQueryExecution", "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable",
        "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject",
        "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    }  # fmt: skip
    assert granted["athena:StartQueryExecution"] == {
        "arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/ownstats-example-com"
    }
    # Athena's guide: access to the catalog and the default database is mandatory
    default = "arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:database/default"
    assert default in granted["glue:GetDatabase"] and default in granted["glue:GetDatabases"]
    tables = {r.rsplit("/", 1)[1] for r in granted["glue:GetTable"] if ":table/" in r}
    assert tables == {"events", *(v.name for v in load_views())}  # not access_logs
    # writes only under the results prefix; the lake is read-only
    assert all(r.endswith("/athena/*") for r in granted["s3:PutObject"])
    lake_reads = {r for r in granted["s3:GetObject"] if "Lake" in r}
    keys = {r for r in lake_reads if r.endswith(("/" + S3_KEY, "/" + FUNNELS_S3_OBJECT))}
    assert len(keys) == 2  # the Stats API keys' hashes and the funnels, those two objects
    assert construct_keys_object() == S3_KEY
    assert {r.rsplit("/", 2)[1] for r in lake_reads - keys} == {"events", "rollups"}
    assert all(r.endswith("/*") for r in lake_reads - keys)
    assert not any(a.startswith(("glue:Create", "glue:Update", "glue:Delete", "s3:Delete"))
                   for a in granted)  # fmt: skip


def construct_keys_object() -> str:
    from cdk.dashboard import API_KEYS_OBJECT, FUNNELS_OBJECT

    assert FUNNELS_OBJECT == FUNNELS_S3_OBJECT
    return API_KEYS_OBJECT


def test_dashboard_url_output(synth: Synth) -> None:
    outputs = synth.json["Outputs"]
    assert _joined(outputs["DashboardUrl"]["Value"]).endswith(".DomainName>/")
    assert "DashboardUserPool" in outputs


def test_hosted_page_is_the_local_page_with_auth_before_app() -> None:
    local = (STATIC_DIR / "index.html").read_text()
    hosted = hosted_index_html(local)
    assert hosted.count(AUTH_SCRIPT) == 1
    assert hosted.replace("  " + AUTH_SCRIPT + "\n", "", 1) == local  # nothing else changed
    assert hosted.index("/_dash/auth.js") < hosted.index("/_dash/app.js")
    with pytest.raises(HostedPageError):
        hosted_index_html("<html><script src='/other.js'></script></html>")


def test_users_need_the_hosted_dashboard_and_valid_addresses() -> None:
    base = {"domain": "example.com"}
    config = OwnstatsConfig.from_mapping({**base, "admin_email": "A@B.io", "dashboard_users":
                                          "c@d.org, e@f.net"})  # fmt: skip
    assert config.hosted_dashboard is True
    assert config.dashboard_users == ("a@b.io", "c@d.org", "e@f.net")
    with pytest.raises(ConfigError, match="admin_email"):
        OwnstatsConfig.from_mapping({**base, "admin_email": "not-an-address"})
    with pytest.raises(ConfigError, match="hosted_dashboard=false"):
        OwnstatsConfig.from_mapping({**base, "admin_email": "a@b.io", "hosted_dashboard": "0"})
    with pytest.raises(ConfigError, match="twice"):
        OwnstatsConfig.from_mapping({**base, "admin_email": "a@b.io", "dashboard_users": "A@b.io"})


def test_hosted_dashboard_false_deploys_none_of_it(tracker: tuple[Path, Path],
                                                   tmp_path: Path) -> None:  # fmt: skip
    app = cdk.App(outdir=str(tmp_path))
    config = replace(
        OwnstatsConfig.from_mapping({"domain": "example.com", "hosted_dashboard": "false"}),
        tracker_js=tracker[0], tracker_gif=tracker[1],
    )  # fmt: skip
    template = Template.from_stack(build(app, config)).to_json()  # cdk-nag included
    types = {r["Type"] for r in template["Resources"].values()}
    assert not types & set(DASHBOARD_TYPES)
    handlers = {r["Properties"].get("Handler") for r in template["Resources"].values()
                if r["Type"] == "AWS::Lambda::Function"}  # fmt: skip
    assert HANDLER not in handlers
    assert not {"DashboardUrl", "DashboardUserPool"} & set(template["Outputs"])
    distributions = [r for r in template["Resources"].values()
                     if r["Type"] == "AWS::CloudFront::Distribution"]  # fmt: skip
    assert len(distributions) == 1  # the collector's only


def _staged_function_code(synth: Synth) -> Path:
    _, function = _dashboard_function(synth)
    key = function["Properties"]["Code"]["S3Key"]  # "<asset hash>.zip"
    manifest = json.loads((synth.outdir / f"{synth.stack.stack_name}.assets.json").read_text())
    return synth.outdir / manifest["files"][key.removesuffix(".zip")]["source"]["path"]


#: imports the handler from the staged code and prints what came from elsewhere; the
#: aarch64 wheels (DuckDB, pyarrow) cannot load here and are taken from the test venv
_IMPORT_CHECK = """
import json, sys
import duckdb, pyarrow, pyarrow.parquet
native = {m.split(".")[0] for m in sys.modules}
sys.path.insert(0, sys.argv[1])
import ownstats.dashboard.hosted as hosted
import ownstats.dashboard.lake_backend  # imported by the handler when the lake is set
import mangum
outside = sorted({m.split(".")[0] for m, mod in list(sys.modules.items())
                  if "site-packages" in (getattr(mod, "__file__", None) or "")
                  and not mod.__file__.startswith(sys.argv[1]) and m.split(".")[0] not in native})
print(json.dumps({"hosted": hosted.__file__, "outside": outside}))
"""


def test_function_code_imports_the_handler_with_nothing_missing(synth: Synth) -> None:
    staged = _staged_function_code(synth).resolve()
    out = subprocess.run(
        [sys.executable, "-I", "-c", _IMPORT_CHECK, str(staged)],
        capture_output=True, text=True, check=True, cwd=staged,
    )  # fmt: skip
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["hosted"].startswith(str(staged))
    assert found["outside"] == []  # every pure-Python dependency is in the package


def test_function_code_holds_the_dashboard_and_its_dependencies(synth: Synth) -> None:
    staged = _staged_function_code(synth)
    module, _, name = HANDLER.rpartition(".")
    assert name == "handler"
    assert (staged / (module.replace(".", "/") + ".py")).is_file()
    sql = {p.stem for p in (staged / "athena_views").glob("*.sql")}
    assert sql == {v.name for v in load_views()}
    for package in ("mangum", "starlette", "sqlglot"):
        assert (staged / package / "__init__.py").is_file(), package
    # no stream processor, no boto3 (the runtime has it)
    assert not (staged / "stream_processor" / "handler.py").exists()
    assert not (staged / "boto3").exists()
    size = sum(p.stat().st_size for p in staged.rglob("*") if p.is_file())
    assert size < 250 * 1024 * 1024  # Lambda's limit for an unzipped package


def test_the_function_and_the_handler_agree_on_entry_point_and_settings() -> None:
    import cdk.dashboard as construct
    from ownstats.dashboard import hosted

    module, _, name = HANDLER.rpartition(".")
    assert module == hosted.__name__ and callable(getattr(hosted, name))
    for setting in ("WORKGROUP_ENV", "DATABASE_ENV", "DOMAINS_ENV", "CACHE_TTL_ENV",
                    "REUSE_MINUTES_ENV", "LAKE_BUCKET_ENV"):  # fmt: skip
        assert getattr(construct, setting) == getattr(hosted, setting), setting
    assert construct.CACHE_TTL_S == hosted.DEFAULT_CACHE_TTL_S
    assert construct.REUSE_MINUTES == hosted.DEFAULT_REUSE_MINUTES


def test_a_dashboard_source_change_rebuilds_without_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cdk.bundling as bundling

    installs: list[list[str]] = []

    def fake_pip(requirements: list[str], python_version: str, target: Path,
                 platforms: tuple[str, ...] = ()) -> None:  # fmt: skip
        installs.append(requirements)
        (target / "somedep").mkdir()
        (target / "somedep" / "__init__.py").write_text("wheel = 1\n")

    source = tmp_path / "hosted.py"
    monkeypatch.setattr(bundling, "_pip_install", fake_pip)
    monkeypatch.setattr(bundling, "dashboard_sources", lambda: [(Path("app/hosted.py"), source)])
    source.write_text("version = 1\n")
    first = bundling.build_dashboard_asset("3.14", tmp_path / "build")
    source.write_text("version = 2\n")
    second = bundling.build_dashboard_asset("3.14", tmp_path / "build")
    assert first != second and len(installs) == 1  # the wheels were installed once
    assert (second / "app" / "hosted.py").read_text() == "version = 2\n"
    assert (first / "app" / "hosted.py").read_text() == "version = 1\n"
    wheel = second / "somedep" / "__init__.py"
    assert wheel.read_text() == "wheel = 1\n"
    assert wheel.stat().st_ino == (first / "somedep" / "__init__.py").stat().st_ino  # linked
    assert bundling.build_dashboard_asset("3.14", tmp_path / "build") == second


@pytest.mark.parametrize(
    "domain",
    ["laws.com", "paws.org", "draws.io", "amazonfan.shop", "cognito.dev", "awsaws.com",
     "xn--aws-bcher.de", "a" * 60 + ".com"],
)  # fmt: skip
def test_the_sign_in_prefix_never_holds_a_word_cognito_refuses(domain: str) -> None:
    from cdk.config import stack_name_for
    from cdk.dashboard import cognito_prefix_base

    base = cognito_prefix_base(stack_name_for(domain))
    assert not re.search("aws|amazon|cognito", base)
    # the UUID group appended after a hyphen is hex: it cannot complete a reserved word
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", base) and len(base) <= 40
    assert not re.search("aws|amazon|cognito", base + "-0123456789abcdef")


def test_the_bundled_dashboard_code_imports_without_the_repository(tmp_path: Path) -> None:
    """Every module the hosted handler imports is in its asset: the asset's sources
    alone (no editable install, no repository on the path) plus the installed wheels."""
    import site

    from cdk.bundling import dashboard_sources

    for inside, source in dashboard_sources():
        (tmp_path / inside).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / inside).write_bytes(source.read_bytes())
    probe = (
        "import ownstats.dashboard.hosted as h, ownstats.dashboard.queries as q;"
        f"assert h.__file__.startswith({str(tmp_path)!r}), h.__file__;"
        "from ownstats.zones import time_zones; print(time_zones('Asia/Kolkata'))"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],  # -S: no site, so no editable-install .pth
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PYTHONPATH": os.pathsep.join([str(tmp_path), *site.getsitepackages()])},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Asia/Kolkata" in done.stdout

"""The hosted dashboard's Lambda handler, driven by API Gateway HTTP API (v2) events.

AWS is moto (``mock_aws``): its Athena runs nothing and answers every query with no
rows, except the first, which is queued to name the one site with data. So every
endpoint must answer with its full shape and zeros, never an error; the endpoints are
read from ``dashboard_routes`` so an endpoint added later is covered without editing
this file.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
import sqlglot
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from starlette.routing import Route

from ownstats.dashboard import dashboard_routes, hosted, queries
from ownstats.dashboard.queries import BREAKDOWNS

REGION = "eu-west-1"
WORKGROUP = "ownstats-example-com"
SITE = "example.com"
CLAIMS = {"sub": "3f1c-user", "client_id": "client-123", "token_use": "access"}

Invoke = Callable[..., tuple[int, Any, dict[str, str]]]


#: what -c funnels gives the function
FUNNELS = '[{"name": "Signup", "steps": ["/pricing", "goal:Signup"]}]'


def api_requests() -> list[tuple[str, dict[str, str]]]:
    """(path, query) of every ``/api`` endpoint of the shared routes, each panel expanded."""

    class NoBackend:
        def query(self, sql: str) -> Any:
            raise AssertionError("routes are only listed here")

    requests: list[tuple[str, dict[str, str]]] = []
    for route in dashboard_routes(NoBackend()):
        if not isinstance(route, Route) or not route.path.startswith("/api/"):
            continue
        params = set(route.param_convertors)
        if route.path == "/api/funnel":  # the funnel the stack defines (FUNNELS)
            requests.append((route.path, {"site": SITE, "funnel": "Signup"}))
            continue
        if not params:
            requests.append((route.path, {"site": SITE}))
            continue
        assert params == {"panel"}, f"new path parameter in {route.path}: teach this test"
        for panel in BREAKDOWNS:
            query = {"site": SITE}
            if panel == "event-props":
                query["prop_event"] = "Signup"
            requests.append((route.path.replace("{panel}", panel), query))
    return requests


def event(
    path: str, query: dict[str, str], claims: dict[str, str] | None, method: str = "GET",
    body: str | None = None, authorization: str = "Bearer a.b.c",
) -> dict[str, Any]:  # fmt: skip
    """What API Gateway hands the function for ``GET path?query`` (payload format 2.0)."""
    raw_query = urlencode(query)
    route = "POST /api/v2/{proxy+}" if method == "POST" else "GET /api/{proxy+}"
    context: dict[str, Any] = {
        "accountId": DEFAULT_ACCOUNT_ID, "apiId": "abc123", "domainName": "d1.cloudfront.net",
        "domainPrefix": "abc123", "requestId": "req-1", "routeKey": route,
        "stage": "$default", "time": "29/Nov/2026:08:00:00 +0000", "timeEpoch": 1795939200000,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                 "sourceIp": "192.0.2.1", "userAgent": "test"},
    }  # fmt: skip
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    answer = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": "abc123.execute-api.eu-west-1.amazonaws.com",
                    "authorization": authorization, "accept": "application/json"},
        "queryStringParameters": query or None,
        "pathParameters": {"proxy": path.removeprefix("/api/")},
        "requestContext": context,
        "isBase64Encoded": False,
    }  # fmt: skip
    if body is not None:
        answer["body"] = body
        answer["headers"]["content-type"] = "application/json"
    return answer


def sites_result() -> QueryResults:
    """The answer to the site list's query (its columns read from the SQL): one site,
    with data since the start of the look-back."""
    today = date.today()
    columns = sqlglot.parse_one(queries.sites_sql(today), read="athena").named_selects
    values = [SITE if name == "domain_name" else today.isoformat() for name in columns]
    return QueryResults(
        rows=[{"Data": [{"VarCharValue": v} for v in row]} for row in (columns, values)],
        column_info=[{"Name": name, "Type": "varchar"} for name in columns],
    )


@pytest.fixture
def started() -> list[dict[str, Any]]:
    """The parameters of every StartQueryExecution the handler sends."""
    return []


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]) -> Iterator[Invoke]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv(hosted.WORKGROUP_ENV, WORKGROUP)
    monkeypatch.setenv(hosted.DATABASE_ENV, "ownstats_example_com")
    monkeypatch.setenv(hosted.DOMAINS_ENV, "example.com,blog.example.org")
    monkeypatch.setenv(hosted.FUNNELS_ENV, FUNNELS)
    # Lambda calls the handler on a thread without a running event loop; under pytest
    # another suite's Playwright may run one on the main thread, so calls get a thread
    # (and loop) of their own, as Mangum sets it up on its first call
    lambda_thread = ThreadPoolExecutor(
        max_workers=1, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
    )
    with mock_aws(), lambda_thread:
        boto3.client("s3").create_bucket(
            Bucket="results", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        boto3.client("athena").create_work_group(
            Name=WORKGROUP,
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/athena/"}},
        )
        athena_backends[DEFAULT_ACCOUNT_ID][REGION].query_results_queue.append(sites_result())
        boto3.setup_default_session()  # the handler's client comes from this session
        boto3.DEFAULT_SESSION.events.register(
            "provide-client-params.athena.StartQueryExecution",
            lambda params, **_: started.append(dict(params)),
        )
        hosted._lambda_handler.cache_clear()

        def call(
            path: str, query: dict[str, str] | None = None,
            claims: dict[str, str] | None = CLAIMS, **posted: Any,
        ) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
            request = event(path, query or {}, claims, **posted)
            response = lambda_thread.submit(hosted.handler, request, None).result()
            headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
            body = response["body"]
            if headers.get("content-type", "").startswith("application/json"):
                body = json.loads(body)
            return response["statusCode"], body, headers

        yield call
        hosted._lambda_handler.cache_clear()
        boto3.DEFAULT_SESSION = None


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [
            n for k, v in value.items() if k not in ("meta", "days", "limit") for n in _numbers(v)
        ]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def test_every_endpoint_answers_zeros_not_failures(invoke: Invoke) -> None:
    status, sites, _ = invoke("/api/sites")
    assert status == 200, sites
    assert sites["sites"] == [SITE]
    requests = api_requests()
    assert len(requests) >= len(BREAKDOWNS) + 4
    for path, query in requests:
        status, body, headers = invoke(path, query)
        assert status == 200, (path, body)
        assert headers["content-type"].startswith("application/json"), path
        assert isinstance(body, dict) and "error" not in body, (path, body)
        if path.startswith("/api/breakdown/"):
            assert body["rows"] == [] and body["columns"], path
        elif path == "/api/current-visitors":
            assert body["visitors"] == 0
        elif path == "/api/summary":
            assert {m["value"] for m in body["metrics"].values()} <= {0, None}
            assert body["metrics"]["visitors"]["value"] == 0
        elif path == "/api/timeseries":
            assert body["points"] and {p["visitors"] for p in body["points"]} <= {0, None}
        elif path == "/api/freshness":
            assert body["newest_event_at"] is None and body["checked_at"]
        elif path == "/api/funnel":  # its step numbers are no counts
            assert [s["visitors"] for s in body["steps"]] == [0, 0]
            continue
        # whatever the endpoint, an empty lake counts nothing
        assert set(_numbers({k: v for k, v in body.items() if k != "age_s"})) <= {0}, path


def test_csv_exports_pass_through_as_text(invoke: Invoke) -> None:
    assert invoke("/api/sites")[0] == 200
    for path, query in api_requests():
        if not path.startswith("/api/breakdown/"):
            continue
        status, body, headers = invoke(path, {**query, "format": "csv"})
        assert status == 200, (path, body)
        assert headers["content-type"].startswith("text/csv"), path
        assert "attachment" in headers["content-disposition"]
        assert body.count("\r\n") == 1  # the header row; an empty lake has no rows


def test_every_query_asks_athena_to_reuse_results(
    invoke: Invoke, started: list[dict[str, Any]]
) -> None:
    for path, query in [("/api/sites", {}), *api_requests()]:
        invoke(path, query)
    assert started
    for params in started:
        assert params["WorkGroup"] == WORKGROUP
        assert params["ResultReuseConfiguration"] == {
            "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 1}
        }


def test_a_reload_within_the_cache_ttl_runs_no_query(
    invoke: Invoke, started: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # within one minute (the clock the SQL is cut at), whenever this test runs
    monkeypatch.setattr(hosted, "minute_now", lambda: datetime(2026, 11, 29, 8, 41))
    page = [("/api/sites", {}), *api_requests()]
    for path, query in page:
        invoke(path, query)
    first_load = len(started)
    for path, query in page:
        assert invoke(path, query)[0] == 200
    assert len(started) == first_load, [p["QueryString"][:90] for p in started[first_load:]]


@pytest.mark.parametrize("site", ["evil.com", "example.com.evil.com", "notexample.com"])
def test_a_site_outside_the_stacks_domains_is_refused(invoke: Invoke, site: str) -> None:
    status, body, _ = invoke("/api/summary", {"site": site})
    assert status == 403
    assert "not one of this stack's domains" in body["error"]


def test_the_hosted_clock_is_cut_to_the_minute() -> None:
    now = hosted.minute_now()
    assert now.tzinfo is None and now.second == 0 and now.microsecond == 0


def test_a_subdomain_of_a_stack_domain_is_a_site_of_the_stack() -> None:
    domains = ("example.com", "blog.example.org")
    assert hosted.site_allowed("shop.example.com", domains)
    assert hosted.site_allowed("Blog.Example.org", domains)
    assert not hosted.site_allowed("example.org", domains)
    assert not hosted.site_allowed("badexample.com", domains)


def test_a_request_without_the_authorizers_claims_is_refused(invoke: Invoke) -> None:
    status, body, _ = invoke("/api/sites", claims=None)
    assert status == 401 and "sign in" in body["error"]
    status, _, _ = invoke("/api/sites", claims={"client_id": "x"})  # no subject
    assert status == 401


def test_athena_failure_is_a_502_on_that_panel_only(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("/api/sites")[0] == 200
    from ownstats.athena import AthenaBackend

    original = AthenaBackend.query

    def throttled(self: AthenaBackend, sql: str) -> Any:
        if re.search(r"\bFROM\s+top_pages\b", sql):
            from ownstats.engine import QueryError

            raise QueryError("Athena refused the query: Rate exceeded (ThrottlingException).")
        return original(self, sql)

    monkeypatch.setattr(AthenaBackend, "query", throttled)
    status, body, _ = invoke("/api/breakdown/pages", {"site": SITE})
    assert status == 502 and "Rate exceeded" not in body["error"]
    assert re.search(r"request [0-9a-f]{12}", body["error"])
    assert invoke("/api/breakdown/sources", {"site": SITE})[0] == 200
    assert invoke("/api/summary", {"site": SITE})[0] == 200


def test_the_stacks_time_zone_reaches_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """cdk/dashboard.py sets OWNSTATS_TIME_ZONE from -c time_zone; the handler reads it."""
    import cdk.dashboard as construct
    from ownstats.dashboard import hosted

    assert construct.TIME_ZONE_ENV == hosted.TIME_ZONE_ENV
    assert construct.INPUT_ENV == hosted.INPUT_ENV
    assert construct.FUNNELS_ENV == hosted.FUNNELS_ENV
    seen: dict[str, Any] = {}
    monkeypatch.setattr(hosted, "build_hosted_app", lambda *a, **k: seen.update(k) or object())
    for name, value in (
        (hosted.WORKGROUP_ENV, "wg"), (hosted.DATABASE_ENV, "db"),
        (hosted.DOMAINS_ENV, "example.com"), (hosted.TIME_ZONE_ENV, "Asia/Kolkata"),
        (hosted.INPUT_ENV, "archive"), ("AWS_DEFAULT_REGION", "us-east-1"),
        (hosted.FUNNELS_ENV, '[{"name": "Signup", "steps": ["/pricing", "goal:Signup"]}]'),
    ):  # fmt: skip
        monkeypatch.setenv(name, value)
    hosted._lambda_handler.cache_clear()
    try:
        hosted._lambda_handler()
    finally:
        hosted._lambda_handler.cache_clear()
    assert seen["time_zone"] == "Asia/Kolkata"
    assert seen["archive_input"] is True
    assert "goal:Signup" in seen["funnels"]


def test_the_stats_api_takes_a_key_instead_of_a_cognito_token(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """#24 hosted: POST /api/v2/query has no authorizer in API Gateway; the function
    checks the Bearer key against the hashes `ownstats api-key create --stack` put in
    the lake bucket, and never logs it."""
    from ownstats.dashboard.api_keys import S3_KEY, S3KeyStore

    monkeypatch.setenv(hosted.LAKE_BUCKET_ENV, "lake")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    key = S3KeyStore("lake", s3).create("grafana")
    stored = s3.get_object(Bucket="lake", Key=S3_KEY)["Body"].read().decode()
    assert key not in stored and key.split("_")[-1] not in stored
    body = json.dumps({"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"})
    with caplog.at_level("DEBUG"):
        status, answer, _ = invoke("/api/v2/query", claims=None, method="POST", body=body,
                                   authorization=f"Bearer {key}")  # fmt: skip
        # the key passed: the query itself ran (this empty lake has no site yet)
        assert status == 400 and "unknown site" in answer["error"], answer
        for wrong in ("Bearer ownstats_00000000_nope", "", f"Bearer {key[:-2]}"):
            status, answer, _ = invoke("/api/v2/query", claims=None, method="POST", body=body,
                                       authorization=wrong)  # fmt: skip
            assert status == 401 and "API key" in answer["error"]
        # every other route still needs the signed-in user's token
        assert invoke("/api/summary", {"site": SITE}, claims=None)[0] == 401
    assert not any(key in record.getMessage() for record in caplog.records)


def test_api_key_commands_for_a_deployed_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ownstats.athena as athena
    from ownstats.cli import main
    from ownstats.dashboard.api_keys import S3KeyStore

    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
        monkeypatch.setattr(athena, "stack_outputs", lambda name: {"LakeBucket": "lake"})
        monkeypatch.setattr(athena, "aws_client", lambda service, **_: s3)
        stack = ["--stack", "ownstats-example-com"]
        assert main(["api-key", "create", *stack, "--name", "grafana"]) == 0
        key = capsys.readouterr().out.strip()
        assert S3KeyStore("lake", s3).check(f"Bearer {key}") == key.split("_")[1]
        assert main(["api-key", "list", *stack]) == 0
        assert "grafana" in capsys.readouterr().out
        assert main(["api-key", "revoke", *stack, key.split("_")[1]]) == 0
        assert S3KeyStore("lake", s3).check(f"Bearer {key}") == (401, "invalid API key")


def test_funnels_edited_for_a_deployed_stack_reach_its_dashboard(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """#24 hosted: `ownstats funnel add --stack` writes the lake bucket's
    settings/funnels.json; the function lists them (with the -c funnels setting's) and
    answers them, without a deploy. A damaged object leaves the setting's funnels."""
    import ownstats.athena as athena
    from ownstats.cli import main
    from ownstats.dashboard.funnels import S3_OBJECT, S3FunnelStore

    monkeypatch.setenv(hosted.LAKE_BUCKET_ENV, "lake")
    monkeypatch.setenv(hosted.FUNNELS_ENV, '[{"name": "Deployed", "steps": ["/", "/docs"]}]')
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setattr(athena, "stack_outputs", lambda name: {"LakeBucket": "lake"})
    monkeypatch.setattr(athena, "aws_client", lambda service, **_: s3)
    stack = ["--stack", "ownstats-example-com"]
    assert main(["funnel", "add", *stack, "Signup", "/", "/pricing", "goal:Signup"]) == 0
    assert main(["funnel", "add", *stack, "Docs", "/docs/*", "/pricing"]) == 0
    assert main(["funnel", "remove", *stack, "Docs"]) == 0
    assert main(["funnel", "list", *stack]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Signup: / → /pricing → goal:Signup"
    assert [f.name for f in S3FunnelStore("lake", s3).list()] == ["Signup"]
    status, sites, _ = invoke("/api/sites")
    assert status == 200, sites
    assert [f["name"] for f in sites["funnels"]] == ["Deployed", "Signup"]
    # a damaged object: the function keeps the setting's funnels and answers
    s3.put_object(Bucket="lake", Key=S3_OBJECT, Body=b"{not json")
    hosted._lambda_handler.cache_clear()
    status, sites, _ = invoke("/api/sites")
    assert status == 200 and [f["name"] for f in sites["funnels"]] == ["Deployed"]

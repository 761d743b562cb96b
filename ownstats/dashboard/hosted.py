"""The dashboard as a Lambda function: local mode's routes over Athena, behind API Gateway.

Where it sits: CloudFront sends ``/api/*`` of the dashboard distribution to an API Gateway
HTTP API whose every route has a Cognito JWT authorizer; the API invokes this handler
(Mangum turns the v2 event into an ASGI request) and the same ``dashboard_routes`` that
``ownstats serve`` mounts answer it, over ``AthenaBackend``. One definition of the API,
so local and hosted never drift.

Why the extras around the shared routes:

- Cost: Athena bills each query (10 MB minimum), so a page load must not become a
  query per panel per Lambda instance. The runner's memory cache (``cache_ttl_s``)
  serves repeats within a minute on a warm instance; Athena's result reuse (added to
  every ``StartQueryExecution`` here) serves repeats across instances without scanning.
- Defence in depth: API Gateway already rejects requests without a valid token, but a
  request that reaches this code without the authorizer's claims (a route added by hand
  without the authorizer) is refused too, and ``site`` must be one of the stack's domains
  (the processor drops every other domain, so anything else is a probe).
- Freshness: ``/api/freshness`` tells the page how new the newest event Athena can see
  is and when that was checked, so "updated N s ago" is a fact, not a guess.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ownstats.athena import AthenaBackend
from ownstats.dashboard.app import dashboard_routes
from ownstats.dashboard.params import utc_today

__all__ = [
    "CACHE_TTL_ENV",
    "DATABASE_ENV",
    "DOMAINS_ENV",
    "LAKE_BUCKET_ENV",
    "REUSE_MINUTES_ENV",
    "WORKGROUP_ENV",
    "ReusingAthena",
    "RoutedBackend",
    "build_hosted_app",
    "handler",
    "minute_now",
    "site_allowed",
]

log = logging.getLogger(__name__)

WORKGROUP_ENV = "OWNSTATS_WORKGROUP"
#: the lake bucket: with it, the function answers from rollups and recent events itself
LAKE_BUCKET_ENV = "OWNSTATS_LAKE_BUCKET"
DATABASE_ENV = "OWNSTATS_DATABASE"
#: comma list of the stack's site domains (exact or subdomain, as the processor accepts)
DOMAINS_ENV = "OWNSTATS_DOMAINS"
CACHE_TTL_ENV = "OWNSTATS_CACHE_TTL_S"
REUSE_MINUTES_ENV = "OWNSTATS_REUSE_MINUTES"
TIME_ZONE_ENV = "OWNSTATS_TIME_ZONE"
#: ``archive``: the stack reads the standard logs only (-c realtime=false)
INPUT_ENV = "OWNSTATS_INPUT"
#: the funnels (-c funnels), JSON
FUNNELS_ENV = "OWNSTATS_FUNNELS"
#: the Stats API's routes (Bearer API key, no Cognito token)
STATS_API_PREFIX = "/api/v2/"

#: a reload within this many seconds costs no query on a warm instance
DEFAULT_CACHE_TTL_S = 60.0
#: Athena hands back an earlier identical query's result up to this old, scanning nothing
DEFAULT_REUSE_MINUTES = 1
#: status polls: Athena's fastest queries end in ~0.3-0.5 s, so poll quickly (polls are free)
POLL_S = 0.2


class ReusingAthena:
    """An Athena client whose every ``StartQueryExecution`` asks for result reuse.

    Why a wrapper: ``AthenaBackend`` is shared with the CLI, where a user expects every
    query to run against the newest data; the hosted dashboard trades up to
    ``max_age_minutes`` of staleness for queries that scan (and bill) nothing when
    another Lambda instance just ran the same SQL.
    """

    def __init__(self, client: Any, max_age_minutes: int) -> None:
        self._client = client
        self.max_age_minutes = max_age_minutes

    def start_query_execution(self, **kwargs: Any) -> Any:
        if self.max_age_minutes > 0:
            kwargs.setdefault(
                "ResultReuseConfiguration",
                {
                    "ResultReuseByAgeConfiguration": {
                        "Enabled": True,
                        "MaxAgeInMinutes": self.max_age_minutes,
                    }
                },
            )
        return self._client.start_query_execution(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class RoutedBackend:
    """Each query to the function's own engine when it can answer (rollups and loaded
    days, ``lake_backend.LakeBackend``), else to Athena; counts both for the benchmark
    and the tests. An error of the fast path falls back to Athena too: a wrong answer is
    never traded for speed, a slow one may be."""

    rollups = True

    def __init__(self, fast: Any, athena: Any) -> None:
        self.fast = fast
        self.athena = athena
        self.answered = 0
        self.forwarded = 0

    def as_of(self, now: datetime) -> datetime:
        """The moment the function's engine shows a page as of (``LakeBackend.as_of``);
        ``now`` if that fails (Athena's answer is as of now)."""
        try:
            return self.fast.as_of(now) if hasattr(self.fast, "as_of") else now
        except Exception:
            log.exception("dashboard: the function's engine failed; as of now")
            return now

    def query(self, sql: str) -> Any:
        try:
            if self.fast.answers(sql):
                result = self.fast.query(sql)
                self.answered += 1
                return result
        except Exception:
            log.exception("dashboard: the function's engine failed; asking Athena")
        self.forwarded += 1
        return self.athena.query(sql)


def site_allowed(site: str, domains: Iterable[str]) -> bool:
    """Whether ``site`` is a stack domain or a subdomain of one (the processor's rule)."""
    site = site.strip().lower().rstrip(".")
    return any(site == d or site.endswith("." + d) for d in domains)


def _claims(scope: Scope) -> dict[str, Any] | None:
    event = scope.get("aws.event") or {}
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) and claims.get("sub") else None


class _Guard:
    """ASGI middleware: signed-in caller (authorizer claims) and a stack domain only."""

    def __init__(self, app: ASGIApp, domains: tuple[str, ...], require_claims: bool) -> None:
        self.app = app
        self.domains = domains
        self.require_claims = require_claims

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal: tuple[int, str] | None = None
        # the Stats API's routes carry an API key instead of a Cognito token: the key is
        # checked by the route itself (api_keys.py), and API Gateway has no authorizer there
        keyed = str(scope.get("path", "")).startswith(STATS_API_PREFIX)
        if self.require_claims and not keyed and _claims(scope) is None:
            refusal = (401, "sign in first: the request carries no verified Cognito token")
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            for name, value in parse_qsl(query, keep_blank_values=True):
                if name == "site" and value and not site_allowed(value, self.domains):
                    refusal = (403, f"site {value[:100]!r} is not one of this stack's domains")
                    break
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


def minute_now() -> datetime:
    """The clock the hosted dashboard's SQL is cut at: naive UTC, to the whole minute.

    Why: "today so far" is compared with the previous period up to the same time of day,
    and that time is part of the SQL text. To the second, every reload would be a new
    query for the memory cache and for Athena's result reuse alike; to the minute, a
    page's panels and every reload within that minute share their queries (the data
    itself is at least a minute old: Firehose buffers 60 s).
    """
    return datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)


def build_hosted_app(
    backend: Any,
    domains: Iterable[str],
    *,
    cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
    require_claims: bool = True,
    today: Callable[[], date] = utc_today,
    now: Callable[[], datetime] = minute_now,
    time_zone: str = "",
    archive_input: bool = False,
    funnels: str = "",
    api_keys: Any = None,
    funnel_store: Any = None,
) -> ASGIApp:
    """The hosted dashboard API: the ``/api/*`` routes of ``dashboard_routes``.

    The page and its static files come from S3 through CloudFront, so only ``/api``
    routes are kept; ``require_claims=False`` is for local stand-ins without API Gateway.
    """
    from ownstats.dashboard.funnels import combined, from_environment

    defined = from_environment(funnels)
    domains = tuple(d.strip().lower() for d in domains if d.strip())
    if not domains:
        raise ValueError(f"no site domains configured (set {DOMAINS_ENV})")
    routes = [
        r
        for r in dashboard_routes(
            backend,
            cache_ttl_s=cache_ttl_s,
            parallel=True,
            today=today,
            now=now,
            configured=domains,
            time_zone=time_zone,
            archive_input=archive_input,
            funnels=(lambda: combined(defined, funnel_store)),
            api_keys=api_keys,
            as_of=getattr(backend, "as_of", None),
        )
        if getattr(r, "path", "").startswith("/api/")
    ]
    return _Guard(Starlette(routes=routes), domains, require_claims)


@functools.cache
def _lambda_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    import boto3
    from botocore.config import Config
    from mangum import Mangum

    # a page load starts ~20 queries at once: Athena's TooManyRequests is retried with
    # backoff (adaptive mode also slows this client down) before a panel shows an error
    athena = boto3.client("athena", config=Config(retries={"mode": "adaptive", "max_attempts": 6}))
    client = ReusingAthena(athena, int(os.environ.get(REUSE_MINUTES_ENV, DEFAULT_REUSE_MINUTES)))
    backend = AthenaBackend(
        os.environ[WORKGROUP_ENV], os.environ[DATABASE_ENV], client=client, poll_s=POLL_S,
        timeout_s=25.0,  # API Gateway gives up after 30 s; answer before it does
    )  # fmt: skip
    keys = funnel_store = None
    if os.environ.get(LAKE_BUCKET_ENV):
        from lake_compactor.store import S3Store
        from ownstats.dashboard.api_keys import S3KeyStore
        from ownstats.dashboard.funnels import S3FunnelStore
        from ownstats.dashboard.lake_backend import LakeBackend

        s3 = boto3.client("s3")
        store = S3Store(os.environ[LAKE_BUCKET_ENV], s3)
        keys = S3KeyStore(os.environ[LAKE_BUCKET_ENV], s3)
        funnel_store = S3FunnelStore(os.environ[LAKE_BUCKET_ENV], s3)
        cache = Path(tempfile.gettempdir()) / "ownstats-dashboard"
        # DuckDB may use 60 % of the function's memory; the rest is Python and boto3
        memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        limit = f"{int(int(memory) * 0.6)}MB" if memory else None
        fast = LakeBackend(
            store, cache, today=utc_today, memory_limit=limit,
            zones=os.environ.get(TIME_ZONE_ENV, ""),
        )  # fmt: skip
        backend = RoutedBackend(fast, backend)
    app = build_hosted_app(
        backend,
        os.environ[DOMAINS_ENV].split(","),
        cache_ttl_s=float(os.environ.get(CACHE_TTL_ENV, DEFAULT_CACHE_TTL_S)),
        now=lambda: minute_now(),  # looked up per call: tests pin the clock
        time_zone=os.environ.get(TIME_ZONE_ENV, ""),
        archive_input=os.environ.get(INPUT_ENV) == "archive",
        funnels=os.environ.get(FUNNELS_ENV, ""),
        api_keys=keys,
        funnel_store=funnel_store,
    )
    return Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (``ownstats.dashboard.hosted.handler``)."""
    return _lambda_handler()(event, context)


if os.environ.get(WORKGROUP_ENV) and os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    _lambda_handler()  # build during the init phase, which runs at full CPU

"""HTTP face of the dashboard: the page, its static files and the JSON/CSV API.

The server (``ownstats serve``) mounts ``dashboard_routes(backend)`` next to the
collector's routes; ``build_app`` wraps the same routes in an app of their own for tests
and for embedding. Handlers stay thin: parse the request (``params``), build SQL
(``queries``), run it (``runner``), shape the answer.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ownstats.dashboard import queries
from ownstats.dashboard.csvsafe import defuse
from ownstats.dashboard.params import (
    FILTERS,
    NONE_VALUE,
    BadRequest,
    Params,
    parse,
    shown,
    utc_today,
)
from ownstats.dashboard.runner import Backend, Runner

__all__ = ["STATIC_DIR", "build_app", "dashboard_routes"]

STATIC_DIR = Path(__file__).parent / "static"
#: how long the site list (used to validate ``site``) is trusted before a re-check
SITES_MEMO_S = 5.0
#: how often an unknown ``site`` may trigger a fresh look at the lake
SITES_RECHECK_S = 1.0
#: the site picker lists sites with events in this many recent days
SITES_LOOKBACK_DAYS = 400
#: rows a CSV export may hold
CSV_MAX_ROWS = 100_000
_CARDS = ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration_s")
# the page loads nothing from elsewhere: no CDN, no fonts, no inline script
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _change(current: Any, previous: Any) -> float | None:
    """Relative change in percent, or None when there is nothing to compare with."""
    if current is None or not previous:
        return None
    return round((current - previous) / previous * 100, 1)


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula.

    Sources, campaigns and event names come from visitors' URLs, so anyone can send
    ``utm_campaign==HYPERLINK(…)``; a leading quote defuses it (OWASP CSV injection).
    Numbers (a numeric column's ``-3``) stay numbers.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return defuse(value)
    return value


def _disposition(filename: str) -> str:
    """An attachment header any client reads (RFC 6266): the UTF-8 name as
    ``filename*`` (RFC 5987), and an ASCII stand-in for clients without it."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _csv(columns: list[str], rows: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _disposition(filename)},
    )


class _Api:
    """The handlers, sharing one runner and the memo of known sites."""

    def __init__(self, runner: Runner, today: Callable[[], date]) -> None:
        self.runner = runner
        self.today = today
        self._sites: tuple[float, list[str]] = (0.0, [])
        self._rechecked = float("-inf")

    async def sites(self, *, fresh: bool = False) -> list[str]:
        expires, names = self._sites
        if fresh or time.monotonic() >= expires:
            since = self.today() - timedelta(days=SITES_LOOKBACK_DAYS)
            (result,) = await self.runner.run(queries.sites_sql(since), fresh=fresh)
            names = [row[0] for row in result.rows]
            self._sites = (time.monotonic() + SITES_MEMO_S, names)
        return names

    async def params(self, request: Request, *, extra: tuple[str, ...] = ()) -> Params:
        known = await self.sites()
        site = request.query_params.get("site")
        if site and site not in known and time.monotonic() - self._rechecked >= SITES_RECHECK_S:
            # a site whose first hit just landed; at most once a second, so requests
            # with made-up sites cannot turn into a query each (Athena bills per query)
            self._rechecked = time.monotonic()
            known = await self.sites(fresh=True)
        return parse(
            request.query_params.multi_items(),
            sites=known.__contains__,
            today=self.today(),
            extra=extra,
        )

    def guarded(self, handler: Handler) -> Handler:
        """Bad input → 400 with the reason; a failing backend → 502 with its message."""

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as err:
                return _error(400, str(err))
            except Exception as err:  # Engine's QueryError, Athena's errors, …
                return _error(502, f"the query backend failed: {err}")

        return endpoint

    # -- endpoints ---------------------------------------------------------------------

    async def get_sites(self, request: Request) -> Response:
        # the filter labels travel with the site list so the page never repeats them
        return JSONResponse(
            {
                "sites": await self.sites(),
                "filters": {name: spec.label for name, spec in FILTERS.items()},
                "none_value": NONE_VALUE,
            }
        )

    async def get_current_visitors(self, request: Request) -> Response:
        params = await self.params(request)
        (result,) = await self.runner.run(queries.current_visitors_sql(params.site))
        visitors = result.rows[0][0] if result.rows else 0
        return JSONResponse({"site": params.site, "visitors": visitors})

    async def get_summary(self, request: Request) -> Response:
        params = await self.params(request)
        (result,) = await self.runner.run(queries.summary_sql(params))
        by_period = {row["period"]: row for row in result.as_dicts()}
        metrics = {}
        for name in _CARDS:
            current = by_period.get("current", {}).get(name)
            previous = by_period.get("previous", {}).get(name)
            if name in ("visitors", "visits", "pageviews"):
                current, previous = current or 0, previous or 0
            metrics[name] = {
                "value": current,
                "previous": previous,
                "change": _change(current, previous),
            }
        return JSONResponse({"meta": params.meta(), "metrics": metrics})

    async def get_timeseries(self, request: Request) -> Response:
        params = await self.params(request)
        sql, interval = queries.timeseries_sql(params)
        (result,) = await self.runner.run(sql)
        # keys normalised: a backend may hand back the hour as int or text
        key = int if interval == "hour" else str
        found = {key(row["bucket"]): row for row in result.as_dicts()}
        hour_now = datetime.now(UTC).hour
        today = self.today()
        if interval == "hour":
            buckets: list[Any] = list(range(24))
            future = [
                params.start > today or (params.start == today and h > hour_now) for h in buckets
            ]
        else:
            buckets = [(params.start + timedelta(days=i)).isoformat() for i in range(params.days)]
            future = [b > today.isoformat() for b in buckets]
        points = []
        for bucket, later in zip(buckets, future, strict=True):
            row = found.get(bucket, {})
            # future buckets stay empty (null) so the line stops at "now"
            empty = None if later else 0
            points.append(
                {
                    "bucket": bucket,
                    "visitors": row.get("visitors", empty),
                    "pageviews": row.get("pageviews", empty),
                }
            )
        return JSONResponse({"meta": params.meta(), "interval": interval, "points": points})

    async def get_breakdown(self, request: Request) -> Response:
        slug = request.path_params["panel"]
        panel = queries.BREAKDOWNS.get(slug)
        if panel is None:
            raise BadRequest(
                f"unknown breakdown {shown(slug)}; one of {', '.join(queries.BREAKDOWNS)}"
            )
        extra = ("prop_event",) if slug == "event-props" else ()
        params = await self.params(request, extra=extra)
        if slug == "event-props" and not params.prop_event:
            raise BadRequest("event-props needs 'prop_event' (a custom event name)")
        csv_out = params.format == "csv"
        sql = queries.breakdown_sql(panel, params, CSV_MAX_ROWS if csv_out else params.limit)
        (result,) = await self.runner.run(sql)
        rows = result.as_dicts()
        columns = [*panel.extra_dimensions, panel.dimension, *(m for m, _ in panel.metrics)]
        if csv_out:
            name = f"{params.site}_{slug}_{params.start}_{params.end}.csv"
            return _csv(columns, rows, name)
        return JSONResponse(
            {
                "meta": params.meta(),
                "panel": slug,
                "title": panel.title,
                "dimension": panel.dimension,
                "filter": panel.filter,
                "columns": columns,
                "rows": rows,
            }
        )


async def _index(request: Request) -> Response:
    response = FileResponse(STATIC_DIR / "index.html", media_type="text/html")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


def dashboard_routes(
    backend: Backend,
    *,
    cache_ttl_s: float = 0,
    parallel: bool = False,
    today: Callable[[], date] = utc_today,
) -> list[BaseRoute]:
    """The dashboard's routes: ``/``, ``/_dash/*`` (static) and ``/api/*``.

    ``backend`` is an ``Engine`` or ``AthenaBackend`` (anything with ``query(sql)``).
    For Athena pass ``parallel=True`` (a page's panels run side by side) and a
    ``cache_ttl_s`` of the refresh interval; ``today`` is injectable for tests.
    """
    api = _Api(Runner(backend, cache_ttl_s=cache_ttl_s, parallel=parallel), today)
    g = api.guarded
    return [
        Route("/", _index, methods=["GET", "HEAD"], name="dashboard"),
        Mount("/_dash", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
        Route("/api/sites", g(api.get_sites), name="api-sites"),
        Route("/api/current-visitors", g(api.get_current_visitors), name="api-current"),
        Route("/api/summary", g(api.get_summary), name="api-summary"),
        Route("/api/timeseries", g(api.get_timeseries), name="api-timeseries"),
        Route("/api/breakdown/{panel}", g(api.get_breakdown), name="api-breakdown"),
    ]


def build_app(backend: Backend, **kwargs: Any) -> Starlette:
    """A Starlette app serving only the dashboard (tests, embedding)."""
    return Starlette(routes=dashboard_routes(backend, **kwargs))

"""HTTP face of the dashboard: the page, its static files and the JSON/CSV API.

The server (``ownstats serve``) mounts ``dashboard_routes(backend)`` next to the
collector's routes; ``build_app`` wraps the same routes in an app of their own for tests
and for embedding. Handlers stay thin: parse the request (``params``), build SQL
(``queries``), run it (``runner``), shape the answer.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from athena_views.zoned import hour_start
from ownstats.dashboard import queries
from ownstats.dashboard.api_keys import KeyStore
from ownstats.dashboard.csvsafe import defuse
from ownstats.dashboard.funnels import Funnel, funnel_sql, shaped
from ownstats.dashboard.params import (
    FILTERS,
    NONE_VALUE,
    BadRequest,
    Params,
    Span,
    parse,
    parse_limit,
    shown,
    spec_of,
    utc_today,
)
from ownstats.dashboard.runner import Backend, Runner
from ownstats.results import QueryResult
from ownstats.zones import time_zones

log = logging.getLogger(__name__)

__all__ = ["STATIC_DIR", "build_app", "dashboard_routes"]

STATIC_DIR = Path(__file__).parent / "static"
#: how long the site list (used to validate ``site``) is trusted before a re-check
SITES_MEMO_S = 5.0
#: what the page says on a stack whose only input is the log archive
ARCHIVE_NOTE = (
    "this stack reads CloudFront's standard logs every 15 minutes (-c realtime=false): "
    "page views show up about an hour after they happen"
)
ARCHIVE_REALTIME = (
    "realtime is not available: this stack reads CloudFront's standard logs every 15 "
    "minutes (-c realtime=false), so no page view is minutes old"
)
#: how often an unknown ``site`` may trigger a fresh look at the lake
SITES_RECHECK_S = 1.0
#: the site picker lists sites with events in this many recent days
SITES_LOOKBACK_DAYS = 400
#: rows a CSV export may hold
CSV_MAX_ROWS = 100_000
_CARDS = ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration_s")
_COUNTS = ("visitors", "visits", "pageviews")
#: a site's first day is trusted this long (period=all); it only changes with retention
FIRST_DAY_MEMO_S = 60.0
# the page loads nothing from elsewhere: no CDN, no fonts, no inline script
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _api_body(request: Request, keys: KeyStore) -> Any:
    """A Stats API request's JSON body once its key checks out, or the refusal."""
    from ownstats.dashboard.stats_api import MAX_BODY_BYTES

    checked = keys.check(request.headers.get("authorization"))
    if isinstance(checked, tuple):
        return _error(*checked)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, f"the query is over {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return _error(400, "the body is not JSON (a UTF-8 JSON object)")


def _change(name: str, current: Any, previous: Any) -> float | None:
    """The change against the previous period, or None when there is nothing to compare.

    A rate changes by percentage points (bounce rate 40 % → 50 % is +10, as Plausible
    shows it), other figures by percent; from 0 to something is +100 %. A previous rate
    of 0 is data, not its absence: a goal filter's visits never bounce.
    """
    if current is None or previous is None:
        return None
    if name.endswith("_rate"):
        return round((current - previous) * 100, 1)
    if previous == 0:
        return 0.0 if current == 0 else 100.0
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


def _buckets(params: Params, span: Span) -> list[tuple[str, Any, datetime, datetime]]:
    """Every bucket of ``span`` at the period's interval: (key the SQL gives, label,
    start, end), start and end naive UTC."""
    interval = params.interval
    if interval == "minute":
        base = queries.minute_base(span)
        return [
            (str(i), (base + timedelta(minutes=i)).isoformat(timespec="minutes"),
             base + timedelta(minutes=i), base + timedelta(minutes=i + 1))
            for i in range(30)
        ]  # fmt: skip
    midnight = datetime.combine(span.start, datetime.min.time())
    if interval == "hour":
        return [
            (str(h), h, midnight + timedelta(hours=h), midnight + timedelta(hours=h + 1))
            for h in range(24)
        ]
    out = []
    day = span.start
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    while day <= span.end:
        if interval == "day":
            after = day + timedelta(days=1)
        elif interval == "week":
            after = day + timedelta(days=7)
        else:
            after = (day + timedelta(days=32)).replace(day=1)
        begins = datetime.combine(day, datetime.min.time())
        out.append(
            (day.isoformat(), day.isoformat(), begins, datetime.combine(after, begins.time()))
        )
        day = after
    return out


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

    def __init__(
        self,
        runner: Runner,
        today: Callable[[], date],
        now: Callable[[], datetime | None],
        configured: Sequence[str] = (),
        zones: Mapping[str, str | None] | None = None,
        default_zone: str | None = None,
        archive_input: bool = False,
        as_of: Callable[[datetime], datetime] | None = None,
    ) -> None:
        self.configured = frozenset(configured)
        #: the moment the backend's data stands at, given now (the hosted function's lake
        #: at ~50 M page views a month and more: today's last whole hour rolled up)
        self.as_of = as_of
        #: the funnels defined for this dashboard (read on each use: the CLI edits them)
        self.funnels: Callable[[], list[Funnel]] = list
        #: a stack without the real-time path (-c realtime=false): events arrive from
        #: the standard logs, an hour or more late, so there are no current visitors
        self.archive_input = archive_input
        self.zones = dict(zones or {})
        self.default_zone = default_zone
        self.runner = runner
        self.today = today
        self.now = now
        self._sites: tuple[float, list[str]] = (0.0, [])
        self._first_days: dict[str, date] = {}
        self._older: dict[str, tuple[float, date]] = {}
        self._rechecked = float("-inf")
        #: freshness query → (the run that answered it, when that run finished reading)
        self._read_at: dict[str, tuple[Future[QueryResult], float]] = {}

    def _today(self) -> date:
        moment = self.now()
        return moment.date() if moment is not None else self.today()

    async def sites(self, *, fresh: bool = False) -> list[str]:
        expires, names = self._sites
        # an empty list is never kept: the first hit of a new lake must open the
        # dashboard within the ~1 s it takes to be queryable, not after SITES_MEMO_S
        if fresh or not names or time.monotonic() >= expires:
            since = self._today() - timedelta(days=SITES_LOOKBACK_DAYS)
            rollups = getattr(self.runner.backend, "rollups", False)
            sql = queries.sites_sql(since, rollups=rollups)
            (result,) = await self.runner.run(sql, fresh=fresh)
            names = [row[0] for row in result.rows]
            # the owner's sites first (busiest first among them): names from before the
            # allow-list folded subdomains, or from no allow-list, never open the page
            names.sort(key=lambda name: name not in self.configured)
            self._first_days = {
                row[0]: date.fromisoformat(str(row[1])[:10]) for row in result.rows if row[1]
            }
            self._sites = (time.monotonic() + SITES_MEMO_S, names)
        return names

    async def first_day(self, site: str) -> date | None:
        """The site's first day with data; the site list knows it unless the data is
        older than its look-back, and only then is every partition asked (memoised)."""
        known = self._first_days.get(site)
        boundary = self._today() - timedelta(days=SITES_LOOKBACK_DAYS)
        if known is None or known > boundary:
            return known
        expires, older = self._older.get(site, (0.0, known))
        if time.monotonic() >= expires:
            rollups = getattr(self.runner.backend, "rollups", False)
            (result,) = await self.runner.run(queries.first_day_sql(site, rollups=rollups))
            value = result.rows[0][0] if result.rows else None
            older = date.fromisoformat(str(value)[:10]) if value else known
            self._older[site] = (time.monotonic() + FIRST_DAY_MEMO_S, older)
        return older

    async def params(
        self,
        request: Request | _Query,
        *,
        extra: tuple[str, ...] = (),
        columns: tuple[str, ...] = (),
    ) -> Params:
        known = await self.sites()
        site = request.query_params.get("site")
        if site and site not in known and time.monotonic() - self._rechecked >= SITES_RECHECK_S:
            # a site whose first hit just landed; at most once a second, so requests
            # with made-up sites cannot turn into a query each (Athena bills per query)
            self._rechecked = time.monotonic()
            known = await self.sites(fresh=True)
        first_day = None
        if request.query_params.get("period") == "all" and site in known:
            first_day = await self.first_day(site)
        if self.archive_input and request.query_params.get("period") == "realtime":
            raise BadRequest(ARCHIVE_REALTIME)
        now = clock = self.now()
        live = request.query_params.get("period") == "realtime"  # the last minutes: now
        zone = self.zones.get(site or "", self.default_zone)
        if now is not None and self.as_of is not None and not live:
            now = await asyncio.to_thread(self.as_of, now)
            if now != clock and zone is not None:  # (the last whole hour on its clock)
                now = hour_start(zone, now)
        params = parse(
            request.query_params.multi_items(),
            sites=known.__contains__,
            today=self.today(),
            now=now,
            extra=extra,
            first_day=first_day,
            columns=columns,
            zone=zone,
        )
        return dataclasses.replace(params, as_of=True) if now != clock else params

    def guarded(self, handler: Handler) -> Handler:
        """Bad input → 400 with the reason; a failing backend → 502 with a request id.

        The backend's own message stays in the log, under that id: Athena's errors name
        role ARNs, the account and buckets, DuckDB's the lake's absolute paths, and
        neither belongs in an answer to a browser.
        """

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as err:
                return _error(400, str(err))
            except Exception as err:  # Engine's QueryError, Athena's errors, …
                return _error(502, _backend_failure(err, request.url.path))

        return endpoint

    # -- endpoints ---------------------------------------------------------------------

    async def get_sites(self, request: Request) -> Response:
        # the filter labels travel with the site list so the page never repeats them
        return JSONResponse(
            {
                "sites": await self.sites(),
                "filters": {name: spec.label for name, spec in FILTERS.items()},
                "none_value": NONE_VALUE,
                "funnels": [f.as_dict() for f in self.funnels()],
                "input": {"mode": "archive", "note": ARCHIVE_NOTE}
                if self.archive_input
                else {"mode": "realtime"},
            }
        )

    async def get_current_visitors(self, request: Request) -> Response:
        return JSONResponse(await self.current_visitors(await self.params(request)))

    async def current_visitors(self, params: Params) -> dict[str, Any]:
        if self.archive_input:  # no event is minutes old: the counter would say 0
            return {"site": params.site, "visitors": None, "unavailable": ARCHIVE_REALTIME}
        (result,) = await self.runner.run(queries.current_visitors_sql(params.site))
        visitors = result.rows[0][0] if result.rows else 0
        return {"site": params.site, "visitors": visitors}

    async def get_freshness(self, request: Request) -> Response:
        return JSONResponse(await self.freshness(await self.params(request)))

    async def freshness(self, params: Params) -> dict[str, Any]:
        """How old the figures may be: when the backend last read the data (a cached
        answer keeps its first reading's time) and the newest event it saw."""
        since = self._today() - timedelta(days=1)
        sql = queries.freshness_sql(params.site, since)
        future = self.runner.submit(sql)
        result = await asyncio.wrap_future(future)
        now = time.time()
        seen = self._read_at.get(sql)
        if seen is None or seen[0] is not future:  # a new run, not the cached one
            seen = self._read_at[sql] = (future, now)
            if len(self._read_at) > 256:  # one entry per site and day
                self._read_at = {sql: seen}
        newest = result.rows[0][0] if result.rows else None
        if isinstance(newest, datetime):
            newest = newest.replace(tzinfo=UTC).isoformat()
        elif isinstance(newest, str):  # Athena answers "2026-11-29 08:40:12.123"
            newest = newest.replace(" ", "T") + ("" if newest.endswith("Z") else "Z")
        return {
            "site": params.site,
            "newest_event_at": newest,
            "checked_at": datetime.fromtimestamp(seen[1], UTC).isoformat(),
            "age_s": round(now - seen[1], 1),
        }

    async def get_summary(self, request: Request) -> Response:
        return JSONResponse(await self.summary(await self.params(request)))

    async def summary(self, params: Params) -> dict[str, Any]:
        """The cards: each metric's value, previous value and change."""
        conversions = queries.conversions_sql(params)
        result, *more = await self.runner.run(
            queries.summary_sql(params), *([conversions] if conversions else [])
        )
        by_period = {row["period"]: row for row in result.as_dicts()}
        for extra in more:
            for row in extra.as_dicts():
                by_period.setdefault(row["period"], {}).update(row)
        compared = params.previous is not None
        # no visits at all in the previous period: nothing to compare with
        had_data = compared and bool(by_period.get("previous", {}).get("visits"))
        metrics = {}
        for name in _CARDS:
            current = by_period.get("current", {}).get(name)
            previous = by_period.get("previous", {}).get(name)
            if name in _COUNTS:
                current = current or 0
                previous = (previous or 0) if compared else None
            metrics[name] = {
                "value": current,
                "previous": previous,
                "change": _change(name, current, previous) if had_data else None,
            }
        if any(spec_of(name).kind == "event" for name, _ in params.filters):
            # a goal filter: the share of every visitor that converted
            rates = []
            for label in ("current", "previous"):
                everyone = by_period.get(f"{label}_all", {}).get("visitors")
                mine = by_period.get(label, {}).get("visitors") or 0
                rates.append(mine / everyone if everyone else None)
            previous_rate = rates[1] if had_data else None
            metrics["conversion_rate"] = {
                "value": rates[0],
                "previous": previous_rate,
                "change": _change("conversion_rate", rates[0], previous_rate),
            }
            total = int(by_period.get("current", {}).get("total_conversions") or 0)
            before = by_period.get("previous", {}).get("total_conversions")
            before = int(before or 0) if compared else None
            metrics["total_conversions"] = {
                "value": total,
                "previous": before,
                "change": _change("total_conversions", total, before) if had_data else None,
            }
        return {"meta": params.meta(), "metrics": metrics}

    async def _series(self, params: Params, span: Span) -> list[dict[str, Any]]:
        """The graph's points over ``span``: every bucket, empty (null) after now."""
        results = await self.runner.run(*queries.timeseries_sql(params, span))
        found: dict[str, dict[str, Any]] = {}
        for result in results:
            for row in result.as_dicts():
                # keys normalised: a backend may hand back numbers as int or text
                found.setdefault(str(row["bucket"])[:10], {}).update(row)
        now = params.now or datetime.combine(self._today() + timedelta(days=1), datetime.min.time())
        points = []
        for key, label, begins, ends in _buckets(params, span):
            row = found.get(key, {})
            later = begins > now
            point: dict[str, Any] = {"bucket": label}
            for name in _CARDS:
                value = row.get(name)
                if name in _COUNTS and value is None and not later:
                    value = 0
                point[name] = None if later else value
            point["incomplete"] = begins <= now < ends
            points.append(point)
        return points

    async def get_timeseries(self, request: Request) -> Response:
        return JSONResponse(await self.timeseries(await self.params(request)))

    async def timeseries(self, params: Params) -> dict[str, Any]:
        """The graph: every bucket of the period and, when compared, the previous line."""
        spans = [params.span]
        previous = params.previous
        if previous is not None:  # the graph shows the whole previous series
            spans.append(previous if previous.since else Span(previous.start, previous.end))
            if previous.until is not None and not previous.since:
                # ... except where the current bucket is still counting: there the
                # dashed line stops at the same elapsed time as the cards' comparison
                # (today until 14:30 against that day until 14:30, not all of it)
                spans.append(previous)
        series = await asyncio.gather(*(self._series(params, span) for span in spans))
        points = series[0]
        prev = None
        # a previous period without a single visit is no data, not a line along zero
        if len(series) > 1 and any(p["visits"] or p["visitors"] for p in series[1]):
            cut = series[2] if len(series) > 2 else series[1]
            prev = [
                {k: v for k, v in (cut if point["incomplete"] else series[1])[i].items()
                 if k != "incomplete"}
                for i, point in enumerate(points[: len(series[1])])
            ]  # fmt: skip
        return {
            "meta": params.meta(),
            "interval": params.interval,
            "points": points,
            "previous": prev,
        }

    async def get_breakdown(self, request: Request) -> Response:
        slug = request.path_params["panel"]
        panel = queries.BREAKDOWNS.get(slug)
        if panel is None:
            raise BadRequest(
                f"unknown breakdown {shown(slug)}; one of {', '.join(queries.BREAKDOWNS)}"
            )
        extra = {"event-props": ("prop_event",), "props": ("prop_key",)}.get(slug, ())
        params = await self.params(request, extra=extra, columns=panel.columns)
        if slug == "event-props" and not params.prop_event:
            raise BadRequest("event-props needs 'prop_event' (a custom event name)")
        if params.format == "csv":  # every row, from the first
            params = dataclasses.replace(params, offset=0)
            sql = queries.breakdown_sql(panel, params, CSV_MAX_ROWS)
            (result,) = await self.runner.run(sql)
            name = f"{params.site}_{slug}_{params.start}_{params.end}.csv"
            return _csv(list(panel.columns), result.as_dicts(), name)
        return JSONResponse(await self.breakdown(panel, params))

    async def breakdown(self, panel: queries.Breakdown, params: Params) -> dict[str, Any]:
        """One panel's rows (``params.limit`` of them, and whether more exist)."""
        # one row more than asked tells the page whether there is a next page
        sql = queries.breakdown_sql(panel, params, params.limit + 1)
        (result,) = await self.runner.run(sql)
        rows = result.as_dicts()
        more = len(rows) > params.limit
        return {
            "meta": params.meta(),
            "panel": panel.slug,
            "title": panel.title,
            "dimension": panel.dimension,
            "filter": panel.filter,
            "columns": list(panel.columns),
            "rows": rows[: params.limit],
            "offset": params.offset,
            "more": more,
        }

    def funnel_named(self, name: str | None) -> Funnel:
        for funnel in self.funnels():
            if funnel.name == name:
                return funnel
        names = ", ".join(shown(f.name) for f in self.funnels()) or "none defined"
        raise BadRequest(f"no funnel {shown(name or '')}; funnels: {names}")

    async def funnel(self, params: Params, funnel: Funnel) -> dict[str, Any]:
        """Each step's visitors, drop-off and conversion, for the period and filters."""
        (result,) = await self.runner.run(funnel_sql(params, funnel))
        return {"meta": params.meta(), "funnel": funnel.name,
                "steps": shaped(funnel, result.as_dicts())}  # fmt: skip

    async def get_funnel(self, request: Request) -> Response:
        name = request.query_params.get("funnel")
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "funnel"]
        params = await self.params(_Query(QueryParams(query)))
        answer = await self.funnel(params, self.funnel_named(name))
        if params.format == "csv":
            columns = ["step", "label", "visitors", "dropoff", "dropoff_rate", "conversion_rate"]
            filename = f"{params.site}_funnel_{params.start}_{params.end}.csv"
            return _csv(columns, answer["steps"], filename)
        return JSONResponse(answer)

    def stats_endpoint(
        self, keys: KeyStore, answer: Callable[[_Api, Any], Awaitable[dict[str, Any]]]
    ) -> Handler:
        """A Stats API route for holders of a key (``ownstats api-key create``):
        ``POST /api/v2/query`` (Plausible's) and ``/api/v2/funnel`` (ours), both answered
        on this dashboard's own queries (stats_api.py)."""

        async def endpoint(request: Request) -> Response:
            body = await _api_body(request, keys)
            if isinstance(body, Response):
                return body
            return JSONResponse(await answer(self, body))

        return endpoint

    async def get_page(self, request: Request) -> Response:
        """Everything a page load shows, in one request: the cards, the graph and each
        panel's rows (``panels=pages,sources,countries:300,…``; ``slug:limit``). Hosted,
        one request is one Lambda invocation instead of ~20 (a new account runs 10 at a
        time). Each part fails alone: its place holds ``{"error": …}``, the others
        answer; a state the API refuses (400) is refused once, for the whole page.
        ``live=1`` adds the live counter and the freshness label's parts, so a first page
        load is this request and the site list: two invocations hosted."""
        query = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("panels", "live")
        ]
        live = request.query_params.get("live") == "1"
        asked = [p for p in request.query_params.get("panels", "").split(",") if p]
        if len(asked) > MAX_PAGE_PANELS:
            raise BadRequest(f"at most {MAX_PAGE_PANELS} panels per page request")
        wanted: list[tuple[str, queries.Breakdown, int]] = []
        for item in asked:
            slug, _, limit = item.partition(":")
            panel = queries.BREAKDOWNS.get(slug)
            if panel is None or slug == "event-props":
                raise BadRequest(f"unknown panel {shown(slug)} in 'panels'")
            wanted.append((item, panel, parse_limit(limit) if limit else 10))
        params = await self.params(_Query(QueryParams(query)))

        async def part(work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
            try:
                return await work
            except BadRequest:
                raise
            except Exception as err:  # logged with an id, as a request of its own
                return {"error": _backend_failure(err, request.url.path)}

        results = await asyncio.gather(
            part(self.summary(params)),
            part(self.timeseries(params)),
            *(
                part(self.breakdown(panel, dataclasses.replace(params, limit=limit)))
                for _, panel, limit in wanted
            ),
            *((part(self.current_visitors(params)), part(self.freshness(params))) if live else ()),
        )
        panels = results[2 : 2 + len(wanted)]
        body = {
            "meta": params.meta(),
            "summary": results[0],
            "timeseries": results[1],
            "panels": {item: b for (item, _, _), b in zip(wanted, panels, strict=True)},
        }
        if live:
            body["current_visitors"], body["freshness"] = results[2 + len(wanted) :]
        return JSONResponse(body)


#: panels one /api/page request may ask for (the page has 6; a tab is one more)
MAX_PAGE_PANELS = 12


@dataclass(frozen=True)
class _Query:
    """Only the query string of a request: what ``_Api.params`` reads."""

    query_params: QueryParams


def _backend_failure(err: Exception, path: str) -> str:
    """The answer for a failed query: a request id, never the backend's own message.

    That message stays in the log, under the id: Athena's errors name role ARNs, the
    account and buckets, DuckDB's the lake's absolute paths, and neither belongs in an
    answer to a browser."""
    request_id = secrets.token_hex(6)
    log.error(
        "dashboard: %s failed (request %s): %s: %s", path, request_id, type(err).__name__, err
    )
    return (
        f"the query backend failed (request {request_id}: its log has the details); "
        "other panels are not affected, retry in a moment"
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
    now: Callable[[], datetime | None] | None = None,
    configured: Sequence[str] = (),
    time_zone: str = "",
    archive_input: bool = False,
    api_keys: KeyStore | None = None,
    funnels: Callable[[], list[Funnel]] | None = None,
    as_of: Callable[[datetime], datetime] | None = None,
) -> list[BaseRoute]:
    """The dashboard's routes: ``/``, ``/_dash/*`` (static) and ``/api/*``.

    ``backend`` is an ``Engine`` or ``AthenaBackend`` (anything with ``query(sql)``).
    For Athena pass ``parallel=True`` (a page's panels run side by side) and a
    ``cache_ttl_s`` of the refresh interval. ``today`` and ``now`` (naive UTC) are
    injectable for tests: a pinned ``today`` alone counts as a whole day; by default
    (neither given) ``now`` is the clock. ``configured``: the deployment's site domains
    (``--domain``, ``-c domain``); the site list puts them first, so the page opens on
    one of them whatever else the lake holds. ``time_zone``: the sites' time zones
    (``params.time_zones``: ``Europe/Berlin`` or ``site=Zone`` pairs; empty: UTC).
    ``archive_input``: the stack reads CloudFront's standard logs only (``-c
    realtime=false``): the realtime period and the live counter are not available.
    ``api_keys``: serve Plausible's Stats API v2 (``POST /api/v2/query``) to these keys.
    ``funnels``: the funnels to offer (``/api/funnel``), read on every use. ``as_of``:
    the moment a page is shown as of, given now (``LakeBackend.as_of``; not realtime).
    """
    if now is None:
        clock = today is utc_today
        now = (lambda: datetime.now(UTC).replace(tzinfo=None)) if clock else (lambda: None)
    default_zone, zones = time_zones(time_zone)
    api = _Api(
        Runner(backend, cache_ttl_s=cache_ttl_s, parallel=parallel),
        today, now, configured, zones, default_zone, archive_input, as_of,
    )  # fmt: skip
    if funnels is not None:
        api.funnels = funnels
    from ownstats.dashboard import stats_api  # the Stats API's translation, when served

    g = api.guarded
    return [
        Route("/", _index, methods=["GET", "HEAD"], name="dashboard"),
        Mount("/_dash", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
        Route("/api/sites", g(api.get_sites), name="api-sites"),
        Route("/api/current-visitors", g(api.get_current_visitors), name="api-current"),
        Route("/api/freshness", g(api.get_freshness), name="api-freshness"),
        Route("/api/summary", g(api.get_summary), name="api-summary"),
        Route("/api/timeseries", g(api.get_timeseries), name="api-timeseries"),
        Route("/api/breakdown/{panel}", g(api.get_breakdown), name="api-breakdown"),
        Route("/api/page", g(api.get_page), name="api-page"),
        Route("/api/funnel", g(api.get_funnel), name="api-funnel"),
        *(
            [Route("/api/v2/query", g(api.stats_endpoint(api_keys, stats_api.answer)),
                   methods=["POST"], name="api-v2-query"),
             Route("/api/v2/funnel", g(api.stats_endpoint(api_keys, stats_api.funnel_answer)),
                   methods=["POST"], name="api-v2-funnel")]
            if api_keys is not None
            else []
        ),
    ]  # fmt: skip


def build_app(backend: Backend, **kwargs: Any) -> Starlette:
    """A Starlette app serving only the dashboard (tests, embedding)."""
    return Starlette(routes=dashboard_routes(backend, **kwargs))

"""Plausible's Stats API v2 (``POST /api/v2/query``): a compatible subset, on the
dashboard's own query core.

Why on the dashboard's core: a number the API gives must be the number the dashboard
shows for the same question. So a v2 query is translated into the dashboard's request
(period, filters, panel, order, page) and answered by the same SQL (``queries``) through
the same backend; only the shapes are Plausible's. What that core cannot answer yet
(two dimensions at once, custom properties, ``is`` with several values, the other
filter operators, datetimes in ``date_range``) is refused with a 400 that says so, as
Plausible refuses combinations it does not support. docs/API.md lists what is served.

Units follow Plausible: ``bounce_rate``, ``percentage`` and ``conversion_rate`` in
percent, ``visit_duration`` and ``time_on_page`` in whole seconds, ``views_per_visit``
to two decimals.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams

from ownstats.dashboard import filter_tree, grouping, queries
from ownstats.dashboard.params import (
    MAX_FILTER_VALUES,
    PROP_PREFIX,
    WHERE,
    BadRequest,
    Params,
    shown,
    spec_of,
    sql_string,
)

if TYPE_CHECKING:
    from ownstats.dashboard.app import _Api

#: the largest request body read (a query is a few hundred bytes)
MAX_BODY_BYTES = 64 * 1024
MAX_LIST = 50
METRICS = (
    "visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration",
    "events", "percentage", "conversion_rate", "scroll_depth", "time_on_page",
)  # fmt: skip
#: v2 dimension → (dashboard panel, its column)
DIMENSIONS: dict[str, tuple[str, str]] = {
    "event:page": ("pages", "page_path"),
    "event:goal": ("custom-events", "event_name"),
    "visit:entry_page": ("entry-pages", "page_path"),
    "visit:exit_page": ("exit-pages", "page_path"),
    "visit:source": ("sources", "source"),
    "visit:channel": ("channels", "channel"),
    "visit:utm_campaign": ("campaigns", "utm_campaign"),
    "visit:utm_medium": ("mediums", "utm_medium"),
    "visit:utm_term": ("terms", "utm_term"),
    "visit:utm_content": ("contents", "utm_content"),
    "visit:country": ("countries", "country_code"),
    "visit:device": ("devices", "device_type"),
    "visit:browser": ("browsers", "browser_name"),
    "visit:os": ("operating-systems", "os_name"),
    # the edge location's city: the lake has no visitor city (no IP database)
    "visit:city": ("cities", "edge_city"),
    "event:hostname": ("hostnames", "hostname"),
}
#: event:props:<name>: the Properties panel narrowed to the property
PROPERTY_DIMENSION = ("props", "prop_value")
TIME_DIMENSIONS = {"time": None, "time:hour": "hour", "time:day": "day", "time:week": "week",
                   "time:month": "month"}  # fmt: skip
#: v2 filter dimension → the dashboard's filter parameter
FILTERS = {
    "event:page": "page", "event:goal": "event", "visit:entry_page": "entry_page",
    "visit:exit_page": "exit_page", "visit:source": "source", "visit:channel": "channel",
    "visit:utm_campaign": "campaign", "visit:utm_medium": "medium", "visit:utm_term": "term",
    "visit:utm_content": "content", "visit:country": "country", "visit:device": "device",
    "visit:browser": "browser", "visit:os": "os", "visit:referrer": "referrer",
    "visit:utm_source": "utm_source", "visit:browser_version": "browser_version",
    "visit:os_version": "os_version", "event:hostname": "hostname",
}  # fmt: skip
#: known to Plausible, not served here (yet): refused by name rather than as unknown
KNOWN_UNSERVED = (
    "event:name", "visit:screen", "visit:region", "visit:country_name",
    "visit:region_name", "visit:city_name", "visit:entry_page_hostname",
    "visit:exit_page_hostname",
)  # fmt: skip
FILTER_OPERATORS = filter_tree.OPERATORS
#: what the dashboard's own filters say (the rest goes into a ``where`` expression)
FLAT_OPERATORS = ("is", "is_not", "contains", "contains_not")
#: the dashboard's summary column of each aggregate metric
_SUMMARY = {"visitors": "visitors", "visits": "visits", "pageviews": "pageviews",
            "views_per_visit": "views_per_visit", "bounce_rate": "bounce_rate",
            "visit_duration": "visit_duration_s"}  # fmt: skip
#: a panel's column of each metric (entry and exit pages count their visits as such)
_PANEL_METRIC = {"visitors": "visitors", "visits": "visits", "pageviews": "pageviews",
                 "bounce_rate": "bounce_rate", "visit_duration": "avg_visit_duration_s",
                 "events": "events", "time_on_page": "avg_time_on_page_s",
                 "scroll_depth": "scroll_depth", "conversion_rate": "conversion_rate"}  # fmt: skip
_VISITS_OF = {"entry-pages": "entries", "exit-pages": "exits"}
_SESSION_METRICS = ("visits", "bounce_rate", "visit_duration", "views_per_visit")


class QueryError(BadRequest):
    """A v2 query this server refuses; the message says why (Plausible's intent)."""


def _list(body: dict[str, Any], name: str, required: bool = False) -> list[Any]:
    value = body.get(name)
    if value is None:
        if required:
            raise QueryError(f"#/{name}: Required property {name} was not present.")
        return []
    if not isinstance(value, list):
        raise QueryError(f"#/{name}: Type mismatch. Expected Array but got {type(value).__name__}.")
    if len(value) > MAX_LIST:
        raise QueryError(f"#/{name}: at most {MAX_LIST} entries")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise QueryError(f"{where}: Type mismatch. Expected String but got {type(value).__name__}.")
    if len(value) > 2000 or "\x00" in value:
        raise QueryError(f"{where}: a string of at most 2000 characters, without NUL")
    return value


def _date_range(value: Any, today: date) -> tuple[str, date | str | None, date | str | None]:
    """The dashboard's period (and dates for a custom range)."""
    presets = {"day": "today", "7d": "7d", "30d": "30d", "month": "month", "year": "year",
               "12mo": "12mo", "all": "all"}  # fmt: skip
    if isinstance(value, str):
        if value in presets:
            return presets[value], None, None
        if value in ("28d", "91d"):
            return "custom", today - timedelta(days=int(value[:-1]) - 1), today
        if value == "6mo":
            first = today.replace(day=1)
            for _ in range(5):
                first = (first - timedelta(days=1)).replace(day=1)
            return "custom", first, today
        raise QueryError(f"#/date_range: Invalid date range {shown(value)}")
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        if all("T" in v and len(v) <= 40 for v in value):
            return "custom", value[0], value[1]  # datetimes: checked by params.parse
        try:
            first, last = (date.fromisoformat(v) for v in value)
        except ValueError:
            raise QueryError(
                "#/date_range: two ISO dates (YYYY-MM-DD) or two ISO datetimes "
                "(YYYY-MM-DDTHH:MM:SS with Z or an offset)"
            ) from None
        return "custom", first, last
    raise QueryError(f"#/date_range: Invalid date range {shown(json.dumps(value)[:80])}")


def _filters(value: list[Any]) -> list[tuple[str, str]]:
    """The dashboard's ``(parameter, value)`` filters of a v2 filter list: each simple
    clause of the top-level ``and`` as the dashboard's own filter, anything else
    (``or``, ``not``, ``has_done``, ``matches``, a second clause on one dimension) in one
    ``where`` expression (filter_tree)."""
    flat: list[tuple[str, str]] = []
    tree: list[Any] = []

    def translated(node: Any, where: str, depth: int) -> list[Any]:
        """``node`` with the dashboard's filter names, checked."""
        if depth > filter_tree.MAX_DEPTH:
            raise QueryError(f"{where}: filters nested deeper than {filter_tree.MAX_DEPTH} levels")
        if not isinstance(node, list) or not node:
            raise QueryError(f"{where}: Invalid filter {shown(json.dumps(node)[:80])}")
        operator = node[0]
        if operator in ("and", "or"):
            if len(node) != 2 or not isinstance(node[1], list) or not node[1]:
                raise QueryError(f"{where}: Invalid filter {shown(json.dumps(node)[:80])}")
            if len(node[1]) > MAX_LIST:
                raise QueryError(f"{where}/1: at most {MAX_LIST} filters")
            children = [translated(c, f"{where}/1/{i}", depth + 1) for i, c in enumerate(node[1])]
            return [operator, children]
        if operator in ("not", "has_done", "has_not_done"):
            if len(node) != 2:
                raise QueryError(f"{where}: Invalid filter {shown(json.dumps(node)[:80])}")
            inner = translated(node[1], f"{where}/1", depth + 1)
            if operator != "not" and (
                inner[0] not in FILTER_OPERATORS or _kind(inner) == "session"
            ):
                raise QueryError(
                    f"{where}: {operator} takes one filter on event:page, event:goal or "
                    "event:props:<name>"
                )
            return [operator, inner]
        if operator not in FILTER_OPERATORS or len(node) not in (3, 4):
            raise QueryError(f"{where}: Invalid filter {shown(json.dumps(node)[:80])}")
        dimension, clauses = _text(node[1], f"{where}/1"), node[2]
        if not isinstance(clauses, list) or not clauses:
            raise QueryError(f"{where}/2: a non-empty list of values")
        if len(clauses) > MAX_FILTER_VALUES:
            raise QueryError(f"{where}/2: at most {MAX_FILTER_VALUES} values")
        if len(node) == 4 and node[3] not in ({}, {"case_sensitive": False}):
            raise QueryError(f'{where}/3: only {{"case_sensitive": false}} is supported')
        if dimension.startswith("event:props:"):
            key = dimension[len("event:props:") :]
            if not key or len(key) > 100:
                raise QueryError(f"{where}/1: a property name of 1-100 characters")
            param = f"{PROP_PREFIX}{key}"
        else:
            param = FILTERS.get(dimension)
        if param is None:
            if dimension in KNOWN_UNSERVED or dimension in DIMENSIONS:
                raise QueryError(
                    f"{where}/1: filtering by {shown(dimension)} is not supported by this "
                    "server yet"
                )
            raise QueryError(f"{where}/1: Invalid filter dimension {shown(dimension)}")
        values = []
        for j, item in enumerate(clauses):
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            text = _text(item, f"{where}/2/{j}")
            if not text:
                raise QueryError(f"{where}/2/{j}: an empty value")
            if param == "device" and not operator.startswith("matches"):
                text = text.lower()  # Plausible spells "Desktop", the lake "desktop"
            values.append(text)
        try:
            filter_tree.leaf(operator, param, values, where)
        except BadRequest as err:
            raise QueryError(str(err)) from None
        return [operator, param, values]

    def top(node: list[Any]) -> None:
        if node[0] == "and":
            for child in node[1]:
                top(child)
        elif node[0] in FLAT_OPERATORS and all(p != node[1] for p, _ in flat):
            flat.append((node[1], _raw(node[0], node[2])))
        else:
            tree.append(node)

    if len(value) > MAX_LIST:
        raise QueryError(f"#/filters: at most {MAX_LIST} filters")
    for i, node in enumerate(value):
        top(translated(node, f"#/filters/{i}", 0))
    if tree:
        expression = json.dumps(tree[0] if len(tree) == 1 else ["and", tree])
        try:
            filter_tree.parse(expression)  # the limits on the whole expression
        except BadRequest as err:
            raise QueryError(f"#/filters: {str(err).removeprefix('where: ')}") from None
        flat.append((WHERE, expression))
    return flat


def _resolved_range(params: Params) -> list[str]:
    """The range answered, as Plausible echoes it (the site's clock; "Z" for UTC)."""
    zone = "" if params.zone else "Z"
    if params.since is not None and params.until is not None:
        last = params.until - timedelta(seconds=1)
        return [f"{params.since.isoformat(timespec='seconds')}{zone}",
                f"{last.isoformat(timespec='seconds')}{zone}"]  # fmt: skip
    return [
        f"{params.start.isoformat()}T00:00:00{zone}",
        f"{params.end.isoformat()}T23:59:59{zone}",
    ]


def _tree_leaves(text: str) -> list[filter_tree.Leaf]:
    return filter_tree.leaves(filter_tree.parse(text))


def _grouped_only(dimension: str) -> bool:
    """A visit attribute with no panel of its own (visit:referrer, visit:utm_source,
    visit:browser_version, visit:os_version): answered as several dimensions are."""
    param = FILTERS.get(dimension)
    return dimension not in DIMENSIONS and param is not None and spec_of(param).kind == "session"


def _visit_level(dimension: str) -> bool:
    """A visit attribute or a time dimension: its ``events`` and ``conversion_rate``
    are counted as several dimensions count them (its panel and the graph have no such
    column)."""
    param = FILTERS.get(dimension)
    return dimension in TIME_DIMENSIONS or (param is not None and spec_of(param).kind == "session")


def _kind(node: list[Any]) -> str:
    return spec_of(node[1]).kind


def _raw(operator: str, values: list[str]) -> str:
    """A filter in the dashboard's URL syntax (``!~a|b``), values escaped."""
    escaped = [re.sub(r"([\\|])", r"\\\1", v) for v in values]
    if escaped[0][:1] in ("!", "~"):
        escaped[0] = "\\" + escaped[0]
    prefix = ("!" if operator.endswith("_not") else "") + ("~" if "contains" in operator else "")
    return prefix + "|".join(escaped)


def _round(metric: str, value: Any) -> Any:
    if value is None:
        return None
    if metric == "bounce_rate":
        return round(float(value) * 100)
    if metric in ("conversion_rate", "percentage"):
        return round(float(value) * 100, 1)
    if metric in ("visit_duration", "time_on_page"):
        return round(float(value))
    if metric == "views_per_visit":
        return round(float(value), 2)
    if metric == "scroll_depth":
        return round(float(value))
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _object(body: Any, allowed: set[str]) -> dict[str, Any]:
    """The request body as an object with no property it does not know."""
    if not isinstance(body, dict):
        raise QueryError("#: Type mismatch. Expected Object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise QueryError(f"#/{unknown[0][:40]}: Schema does not allow additional properties.")
    return body


def _period_items(api: _Api, body: dict[str, Any], site: str) -> list[tuple[str, str]]:
    """The dashboard's query parameters for the site and ``date_range`` (no comparison)."""
    period, first, last = _date_range(body["date_range"], api._today())
    items: list[tuple[str, str]] = [("site", site), ("period", period), ("comparison", "off")]
    if first is not None and last is not None:
        items += [("from", str(first)), ("to", str(last))]
    return items


async def answer(api: _Api, body: Any) -> dict[str, Any]:
    """The v2 response (``results``, ``meta``, ``query``) for one request body."""
    body = _object(body, {"site_id", "metrics", "date_range", "dimensions", "filters",
                          "order_by", "include", "pagination"})  # fmt: skip
    site = _text(body.get("site_id"), "#/site_id")
    metrics = [_text(m, f"#/metrics/{i}") for i, m in enumerate(_list(body, "metrics", True))]
    if not metrics:
        raise QueryError("#/metrics: Expected a minimum of 1 items but got 0.")
    for metric in metrics:
        if metric not in METRICS:
            raise QueryError(f"#/metrics: Invalid metric {shown(metric)}")
    if len(set(metrics)) != len(metrics):
        raise QueryError("#/metrics: Expected items to be unique but they were not.")
    if "date_range" not in body:
        raise QueryError("#/date_range: Required property date_range was not present.")
    dimensions = [_text(d, f"#/dimensions/{i}") for i, d in enumerate(_list(body, "dimensions"))]
    filters = _filters(_list(body, "filters"))
    include = body.get("include") or {}
    if not isinstance(include, dict) or set(include) - {"time_labels", "total_rows", "imports"}:
        raise QueryError("#/include: only time_labels, total_rows (and imports: false)")
    if include.get("imports"):
        raise QueryError("#/include/imports: this server has no imported data")
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict) or set(pagination) - {"limit", "offset"}:
        raise QueryError("#/pagination: an object with limit and offset")
    limit, offset = pagination.get("limit", 10_000), pagination.get("offset", 0)
    for name, value in (("limit", limit), ("offset", offset)):
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < (1 if name == "limit" else 0)
        ):
            raise QueryError(f"#/pagination/{name}: a whole number")
    order_by = _list(body, "order_by")
    items = _period_items(api, body, site) + filters

    if len(set(dimensions)) != len(dimensions):
        raise QueryError("#/dimensions: Expected items to be unique but they were not.")
    dimension = dimensions[0] if len(dimensions) == 1 else None
    goal_filtered = any(p == "event" for p, _ in filters)
    if "percentage" in metrics and not dimensions:
        raise QueryError("Metric `percentage` can only be queried with a dimension")
    if "conversion_rate" in metrics and not (goal_filtered or "event:goal" in dimensions):
        raise QueryError(
            "Metric `conversion_rate` can only be queried with event:goal filters or dimensions"
        )
    paged = any(
        p == "page" or (p == WHERE and any(x.name == "page" for x in _tree_leaves(v)))
        for p, v in filters
    )
    if paged and "views_per_visit" in metrics:
        raise QueryError("Metric `views_per_visit` cannot be queried with a filter on `event:page`")
    if dimension is not None and dimension.startswith("event:") and dimension != "event:page":
        session = [m for m in metrics if m in _SESSION_METRICS]
        if session:
            raise QueryError(
                f"Session metric(s) {', '.join(f'`{m}`' for m in session)} cannot be "
                "queried along with event dimensions."
            )

    from ownstats.dashboard.app import _Query  # the dashboard's own request validation

    def params(extra: list[tuple[str, str]], columns: tuple[str, ...] = ()) -> Any:
        allowed = tuple(name for name, _ in extra if name == "prop_key")
        return api.params(_Query(QueryParams(items + extra)), extra=allowed, columns=columns)

    results: list[dict[str, Any]]
    meta: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    grouped = (
        len(dimensions) > 1
        or (dimension is not None and _grouped_only(dimension))
        or _hourly(dimensions, await params([]))
        or (
            ("events" in metrics or "conversion_rate" in metrics)
            and dimension is not None
            and _visit_level(dimension)
        )
    )
    if grouped:
        results, total = await _grouped(
            api, params, dimensions, metrics, order_by, limit, offset,
            count=bool(include.get("total_rows")), labels=labels,
        )  # fmt: skip
        if total is not None:
            meta["total_rows"] = total
        if include.get("time_labels") and "time_labels" in labels:
            meta["time_labels"] = labels["time_labels"]
    elif dimension in DIMENSIONS or str(dimension).startswith("event:props:"):
        results, total = await _breakdown(
            api, params, dimension, metrics, order_by, limit, offset,
            count=bool(include.get("total_rows")),
        )  # fmt: skip
        if total is not None:
            meta["total_rows"] = total
    elif dimension is None:
        results = [await _aggregate(api, await params([]), metrics, goal_filtered)]
    elif dimension in TIME_DIMENSIONS:
        results, labels = await _timeseries(api, params, dimension, metrics)
        if include.get("time_labels"):
            meta["time_labels"] = labels
        results = results[offset : offset + limit]
    elif dimension in KNOWN_UNSERVED:
        raise QueryError(f"#/dimensions/0: {shown(dimension)} is not supported by this server yet")
    else:
        raise QueryError(f"#/dimensions/0: Invalid dimension {shown(dimension)}")
    if include.get("time_labels") and not any(d in TIME_DIMENSIONS for d in dimensions):
        raise QueryError("Invalid include.time_labels: requires a time dimension")
    resolved = await params([])
    return {
        "results": results,
        "meta": meta,
        "query": {
            "site_id": site,
            "metrics": metrics,
            "date_range": _resolved_range(resolved),
            "filters": body.get("filters") or [],
            "dimensions": dimensions,
            "order_by": order_by,
            "include": include,
            "pagination": {"limit": limit, "offset": offset},
        },
    }


#: what several dimensions at once may be: visit attributes (columns of ``sessions``),
#: at most one event-level dimension (its panel's view) and one time dimension
_GROUPED_METRICS = {"visitors": "visitors", "visits": "visits", "pageviews": "pageviews",
                    "views_per_visit": "views_per_visit", "bounce_rate": "bounce_rate",
                    "visit_duration": "visit_duration_s",
                    "conversion_rate": "conversion_rate"}  # fmt: skip
#: event-level dimensions: the panel whose view (and metrics) answers them per visit group
_EVENT_PANELS = {"event:page": "pages", "event:goal": "custom-events",
                 "event:hostname": "hostnames", "visit:city": "cities"}  # fmt: skip
#: time:hour's figures: activity from ``hourly_stats``, visits by the hour they started
_HOUR_METRICS = {"visitors": "visitors", "pageviews": "pageviews", "visits": "visits",
                 "views_per_visit": "views_per_visit", "bounce_rate": "bounce_rate",
                 "visit_duration": "visit_duration_s"}  # fmt: skip
#: which of two event-level dimensions is counted (its panel's view and metrics); the
#: other splits the counted events by their own value of it (_ATTRIBUTES)
_PRIMARY = ("event:goal", "event:props:", "event:hostname", "event:page", "visit:city")
_ATTRIBUTES = {"event:page": "e.page_path", "event:goal": "e.event_name",
               "event:hostname": "e.hostname", "visit:city": "e.edge_city"}  # fmt: skip
_BUCKETS = {"time:day": "day", "time:week": "week", "time:month": "month",
            "time:hour": grouping.HOUR}  # fmt: skip


def _bucket_of(name: str, state: Params) -> str:
    """A time dimension's bucket; ``time`` follows the range as the graph does."""
    if name == "time":
        return grouping.HOUR if state.interval in ("hour", "minute") else state.interval
    return _BUCKETS[name]


def _hourly(dimensions: list[str], state: Params) -> bool:
    """Whether one time dimension alone is answered by hours (``time:hour``, or ``time``
    over one day): as several dimensions are, so labels are Plausible's datetimes."""
    return (
        len(dimensions) == 1
        and dimensions[0] in TIME_DIMENSIONS
        and (_bucket_of(dimensions[0], state) == grouping.HOUR)
    )


def _time_labels(state: Params, bucket: str) -> list[str]:
    """Every bucket of the range (``include.time_labels``), as the rows label them."""
    labels: list[str] = []
    day = state.start
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    elif bucket == "month":
        day = day.replace(day=1)
    while day <= state.end:
        if bucket == grouping.HOUR:
            labels += [f"{day.isoformat()} {hour:02}:00:00" for hour in range(24)]
        else:
            labels.append(day.isoformat())
        if bucket == "month":
            day = (day + timedelta(days=32)).replace(day=1)
        else:
            day += timedelta(days=7 if bucket == "week" else 1)
    return labels


def _primary_rank(name: str) -> int:
    return next(i for i, prefix in enumerate(_PRIMARY) if name.startswith(prefix))


def _event_dimension(name: str, where: str) -> tuple[queries.Breakdown, tuple[str, ...], str]:
    """An event-level dimension's panel, the view's columns it groups by (its value
    last) and the condition on the view's rows."""
    if name.startswith("event:props:"):
        key = name[len("event:props:") :]
        if not key or len(key) > 100:
            raise QueryError(f"{where}: a property name of 1-100 characters")
        return queries.BREAKDOWNS["props"], ("prop_value",), f"prop_key = {sql_string(key)}"
    panel = queries.BREAKDOWNS[_EVENT_PANELS[name]]
    return panel, (*panel.extra_dimensions, panel.dimension), ""


async def _grouped(
    api: _Api,
    params: Any,
    dimensions: list[str],
    metrics: list[str],
    order_by: list[Any],
    limit: int,
    offset: int,
    *,
    count: bool = False,
    labels: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Several dimensions at once (grouping.py): visit attributes by ``daily_stats.sql``
    grouped by them, an event-level dimension or an hour by its view per visit group.
    ``labels``: filled with ``time_labels`` when a time dimension is asked."""
    state = await params([])
    columns: list[str] = []
    visit_dims: list[str] = []
    bucket = time_dim = event_dim = None
    event_dims: list[str] = []
    for i, name in enumerate(dimensions):
        where = f"#/dimensions/{i}"
        if name in TIME_DIMENSIONS:
            if time_dim is not None:
                raise QueryError(f"{where}: one time dimension at most")
            time_dim, bucket = name, _bucket_of(name, state)
            continue
        if name in _EVENT_PANELS or name.startswith("event:props:"):
            if len(event_dims) == 2:
                raise QueryError(
                    f"{where}: {shown(name)}: two event-level dimensions (event:*, "
                    "visit:city) at most are supported by this server yet"
                )
            event_dims.append(name)
            continue
        param = FILTERS.get(name)
        if param is None or spec_of(param).kind != "session":
            if name in DIMENSIONS or name in KNOWN_UNSERVED or name.startswith("event:"):
                raise QueryError(
                    f"{where}: {shown(name)} with other dimensions is not supported by this "
                    "server yet"
                )
            raise QueryError(f"{where}: Invalid dimension {shown(name)}")
        visit_dims.append(name)
        columns.append(spec_of(param).column or "")
    if "percentage" in metrics and time_dim is not None:
        raise QueryError("Metric `percentage` is not supported with a time dimension")
    goal = any(name == "event" for name, _ in state.filters)
    # two event-level dimensions: the first in _PRIMARY's order is counted by its
    # panel's view, the other split by as each counted event's own attribute
    event_dims.sort(key=_primary_rank)
    event_dim = event_dims[0] if event_dims else None
    second = event_dims[1] if len(event_dims) > 1 else None

    if event_dim is not None:
        panel, keys, condition = _event_dimension(event_dim, "#/dimensions")
        expressions = dict(panel.metrics)
        column_of = {m: _PANEL_METRIC.get(m, "") for m in metrics}
        if event_dim.startswith("event:") and event_dim != "event:page":
            session = [m for m in metrics if m in _SESSION_METRICS]
            if session:
                raise QueryError(
                    f"Session metric(s) {', '.join(f'`{m}`' for m in session)} cannot be "
                    "queried along with event dimensions."
                )
        for metric in metrics:
            if metric == "percentage" or (metric == "conversion_rate" and panel.conversion):
                continue
            if column_of[metric] not in expressions:
                raise QueryError(
                    f"Metric `{metric}` is not supported with dimension `{event_dim}` by "
                    "this server yet"
                )
        if "percentage" in metrics and "visitors" not in expressions:
            raise QueryError(f"Metric `percentage` is not supported with `{event_dim}` yet")
        wanted = [(c, expressions[c]) for m, c in column_of.items() if c in expressions]
        if "visitors" in expressions and all(c != "visitors" for c, _ in wanted):
            wanted.append(("visitors", expressions["visitors"]))
        attribute = _ATTRIBUTES.get(str(second))
        if second is not None and second.startswith("event:props:"):
            attribute = f"element_at(e.props, {sql_string(second[len('event:props:') :])})"
        sql = grouping.event_grouped_sql(
            state, panel.view, keys, tuple(wanted), tuple(columns), bucket, condition,
            attribute,
        )  # fmt: skip
        event_at = len(columns) + len(keys) - 1
        if "conversion_rate" in metrics:
            time_at = event_at + 1 + (second is not None) if bucket else None
            sql = grouping.with_conversion_rate(sql, state, tuple(columns), bucket, time_at)
    elif bucket == grouping.HOUR:
        column_of = {}
        for metric in metrics:
            if (metric == "conversion_rate" and goal) or metric == "events":
                column_of[metric] = metric
            elif metric in _HOUR_METRICS:
                column_of[metric] = _HOUR_METRICS[metric]
            else:
                raise QueryError(
                    f"Metric `{metric}` is not supported with an hourly time dimension by "
                    "this server yet"
                )
        sql = grouping.event_grouped_sql(
            state, "hourly_stats", (), (("visitors", "sum(visitors)"),
                                        ("pageviews", "sum(pageviews)")),
            tuple(columns), bucket,
        )  # fmt: skip
        if "events" in metrics:
            sql = _events_joined(sql, state, tuple(columns), bucket)
        if "conversion_rate" in metrics:
            sql = grouping.with_conversion_rate(sql, state, tuple(columns), bucket, len(columns))
        event_at = None
    else:
        column_of = {"events": "events"} if "events" in metrics else {}
        for metric in metrics:
            if metric not in _GROUPED_METRICS and metric not in column_of | {"percentage": ""}:
                raise QueryError(
                    f"Metric `{metric}` is not supported with several dimensions by this server yet"
                )
            column_of.setdefault(metric, _GROUPED_METRICS.get(metric, ""))
        if "conversion_rate" in metrics and not goal:
            raise QueryError(
                "Metric `conversion_rate` can only be queried with event:goal filters or dimensions"
            )
        sql = grouping.grouped_sql(state, tuple(columns), bucket)
        if queries.page_condition(state) is not None and "pageviews" in metrics:
            sql = _page_views_joined(sql, state, tuple(columns), bucket)
        if "events" in metrics:
            sql = _events_joined(sql, state, tuple(columns), bucket)
        if "conversion_rate" in metrics:
            time_at = len(columns) if bucket else None
            sql = grouping.with_conversion_rate(sql, state, tuple(columns), bucket, time_at)
        event_at = None

    aliases = {name: f"d{i}" for i, name in enumerate(visit_dims)}
    if event_dim is not None and event_at is not None:
        aliases[event_dim] = f"d{event_at}"
        if second is not None:
            aliases[second] = f"d{event_at + 1}"
    if time_dim is not None:
        last = len(columns) + (len(keys) + (second is not None) if event_dim else 0)
        aliases[time_dim] = f"d{last}"
    sortable = {**{m: column_of[m] for m in metrics if m != "percentage"}, **aliases}
    order = [
        f"{name} {direction.upper()} NULLS LAST"
        for name, direction in _order_terms(order_by, sortable, metrics)
    ]
    if not order:
        if time_dim is not None:
            order.append(f"{aliases[time_dim]} ASC")
        first = metrics[0]
        order.append(f"{'visitors' if first == 'percentage' else column_of[first]} DESC")
    order += [f"{alias} ASC NULLS LAST" for alias in aliases.values()]
    (page,) = await api.runner.run(
        f"SELECT * FROM ({sql}) AS g ORDER BY {', '.join(order)}"
        f"{f' OFFSET {offset}' if offset else ''} LIMIT {min(limit, 100_000)}"
    )
    total = await _row_count(api, sql) if count else None
    everyone = await _everyone(api, state, metrics)
    if labels is not None and time_dim is not None and bucket is not None:
        labels["time_labels"] = _time_labels(state, bucket)
    rows = [
        {
            "metrics": _values(row, metrics, column_of, everyone),
            "dimensions": [_label(name, row[aliases[name]]) for name in dimensions],
        }
        for row in page.as_dicts()
    ]
    return rows, total


def _page_views_joined(
    sql: str, state: Params, columns: tuple[str, ...], bucket: str | None
) -> str:
    """``sql``'s rows (grouped_sql) with page views counted as a page filter counts them:
    only the page's own (``top_pages`` per visit group), as the cards do."""
    pages = grouping.event_grouped_sql(
        state, "top_pages", (), (("pageviews", "sum(pageviews)"),), columns, bucket
    )
    keys = len(columns) + (1 if bucket else 0)
    on = grouping.same_dimensions("v", "p", keys)
    kept = [f"v.d{i}" for i in range(keys)]
    kept += ["v.visitors", "v.visits", "coalesce(p.pageviews, 0) AS pageviews",
             "v.views_per_visit", "v.bounce_rate", "v.visit_duration_s"]  # fmt: skip
    return f"SELECT {', '.join(kept)} FROM ({sql}) AS v LEFT JOIN ({pages}) AS p ON {on}"


def _events_joined(sql: str, state: Params, columns: tuple[str, ...], bucket: str | None) -> str:
    """``sql``'s rows (grouped_sql) with Plausible's ``events`` of each combination."""
    counted = grouping.events_sql(state, columns, bucket)
    keys = len(columns) + (1 if bucket else 0)
    on = grouping.same_dimensions("v", "p", keys)
    return (
        f"SELECT v.*, coalesce(p.events, 0) AS events FROM ({sql}) AS v "
        f"LEFT JOIN ({counted}) AS p ON {on}"
    )


async def _aggregate(api: _Api, params: Params, metrics: list[str], goal: bool) -> dict[str, Any]:
    summary = (await api.summary(params))["metrics"]
    values = []
    for metric in metrics:
        if metric == "events":
            if goal:
                values.append(summary["total_conversions"]["value"])
            else:
                (counted,) = await api.runner.run(grouping.events_sql(params, ()))
                values.append(int(counted.rows[0][0] or 0) if counted.rows else 0)
        elif metric == "conversion_rate":
            values.append(_round(metric, summary["conversion_rate"]["value"]))
        elif metric in _SUMMARY:
            values.append(_round(metric, summary[_SUMMARY[metric]]["value"]))
        else:
            raise QueryError(
                f"Metric `{metric}` is not supported without a dimension by this server yet"
            )
    return {"metrics": values, "dimensions": []}


async def _timeseries(
    api: _Api, params: Any, dimension: str, metrics: list[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    interval = TIME_DIMENSIONS[dimension]
    state = await params([("interval", interval)] if interval else [])
    series = await api.timeseries(state)
    rows, labels = [], []
    for point in series["points"]:
        label = str(point["bucket"])
        labels.append(label)
        if point["visitors"] is None or not (point["visitors"] or point["visits"]):
            continue  # Plausible lists buckets with data only (time_labels has them all)
        values = []
        for metric in metrics:
            if metric not in _SUMMARY:
                raise QueryError(
                    f"Metric `{metric}` is not supported with a time dimension by this server yet"
                )
            values.append(_round(metric, point[_SUMMARY[metric]]))
        rows.append({"metrics": values, "dimensions": [label]})
    return rows, labels


async def _breakdown(
    api: _Api,
    params: Any,
    dimension: str,
    metrics: list[str],
    order_by: list[Any],
    limit: int,
    offset: int,
    *,
    count: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    narrowed: list[tuple[str, str]] = []
    if dimension.startswith("event:props:"):
        key = dimension[len("event:props:") :]
        if not key or len(key) > 100:
            raise QueryError("#/dimensions/0: a property name of 1-100 characters")
        slug, column = PROPERTY_DIMENSION
        narrowed = [("prop_key", key)]
    else:
        slug, column = DIMENSIONS[dimension]
    panel = queries.BREAKDOWNS[slug]
    columns = dict.fromkeys(panel.columns)
    wanted: dict[str, str] = {}
    for metric in metrics:
        if metric == "percentage":
            continue
        name = (
            _VISITS_OF.get(slug, "visits") if metric == "visits" else _PANEL_METRIC.get(metric, "")
        )
        if name not in columns:
            raise QueryError(
                f"Metric `{metric}` is not supported with dimension `{dimension}` by this "
                "server yet"
            )
        wanted[metric] = name
    if "percentage" in metrics and "visitors" not in columns:
        raise QueryError(f"Metric `percentage` is not supported with `{dimension}` yet")
    terms = _order_terms(order_by, {**wanted, dimension: column}, metrics)
    order = [f"{name} {direction.upper()} NULLS LAST" for name, direction in terms]
    extra = [("order_by", terms[-1][0]), ("order", terms[-1][1])] if terms else []
    # the dashboard's pages hold up to 1,000 rows: a bigger limit reads several
    page: list[dict[str, Any]] = []
    state = None
    if len(order) > 1:  # several keys: the panel's rows, sorted by them here
        state = await params(narrowed, columns=panel.columns)
        (sorted_rows,) = await api.runner.run(
            f"SELECT * FROM ({queries.breakdown_sql(panel, state, None)}) AS b "
            f"ORDER BY {', '.join(order)}, {column} ASC NULLS LAST"
            f"{f' OFFSET {offset}' if offset else ''} LIMIT {min(limit, 100_000)}"
        )
        page = sorted_rows.as_dicts()
    while len(page) < limit and len(order) <= 1:
        size = min(limit - len(page), 1000)
        state = await params(
            [*narrowed, *extra, ("limit", str(size)), ("offset", str(offset + len(page)))],
            columns=panel.columns,
        )
        answer = await api.breakdown(panel, state)
        page += answer["rows"]
        if not answer["more"] or offset + len(page) >= 100_000:
            break
    total = None
    if count and state is not None:
        total = await _row_count(api, queries.breakdown_sql(panel, state, None))
    everyone = await _everyone(api, await params([]), metrics)
    rows = [
        {"metrics": _values(row, metrics, wanted, everyone),
         "dimensions": [_label(dimension, row[column])]}
        for row in page[:limit]
    ]  # fmt: skip
    return rows, total


def _order_terms(
    order_by: list[Any], sortable: dict[str, str], metrics: list[str]
) -> list[tuple[str, str]]:
    """Each ``order_by`` entry as (column, direction): ``sortable`` names the column of
    each queried dimension and metric; ``percentage`` sorts as its visitors."""
    terms = []
    for j, entry in enumerate(order_by):
        key, direction = _order_entry(entry, j)
        if isinstance(key, str) and key in sortable:
            name = sortable[key]
        elif key == "percentage" and "percentage" in metrics:
            name = "visitors"
        else:
            raise QueryError(
                f"#/order_by/{j}: Entry is not a queried metric or dimension: {shown(str(key))}"
            )
        terms.append((name, direction))
    return terms


def _order_entry(entry: Any, j: int) -> tuple[Any, str]:
    """An ``order_by`` entry's key and direction, checked."""
    if not (isinstance(entry, list) and len(entry) == 2 and entry[1] in ("asc", "desc")):
        raise QueryError(f'#/order_by/{j}: [metric or dimension, "asc" | "desc"]')
    return entry[0], entry[1]


async def _row_count(api: _Api, sql: str) -> int:
    """``include.total_rows``: the rows ``sql`` gives, unpaged."""
    (counted,) = await api.runner.run(f"SELECT count(*) AS n FROM ({sql}) AS counted")
    return int(counted.rows[0][0]) if counted.rows else 0


async def _everyone(api: _Api, state: Params, metrics: list[str]) -> int | None:
    """``percentage``'s denominator: the visitors of the range under the same filters."""
    if "percentage" not in metrics:
        return None
    return (await api.summary(state))["metrics"]["visitors"]["value"] or 0


def _values(
    row: dict[str, Any], metrics: list[str], column_of: dict[str, str], everyone: int | None
) -> list[Any]:
    """A result row's metrics in Plausible's units; ``column_of`` names each metric's
    column of ``row``, ``percentage`` is the row's share of ``everyone``."""
    values = []
    for metric in metrics:
        if metric == "percentage":
            share = (row["visitors"] or 0) / everyone if everyone else None
            values.append(_round("percentage", share))
        else:
            values.append(_round(metric, row[column_of[metric]]))
    return values


def _label(dimension: str, value: Any) -> Any:
    """A dimension's value as Plausible spells it (``Mobile``; time buckets as text)."""
    if dimension == "visit:device" and isinstance(value, str):
        return value.capitalize()
    if dimension in TIME_DIMENSIONS and value is not None:
        return str(value)
    return value


async def funnel_answer(api: _Api, body: Any) -> dict[str, Any]:
    """``POST /api/v2/funnel``: a funnel by name (or ``steps`` given inline) for a date
    range and filters, as the dashboard's funnel panel counts it (funnels.py)."""
    from ownstats.dashboard.app import _Query
    from ownstats.dashboard.funnels import FunnelError, checked

    body = _object(body, {"site_id", "date_range", "filters", "funnel", "steps"})
    site = _text(body.get("site_id"), "#/site_id")
    if "date_range" not in body:
        raise QueryError("#/date_range: Required property date_range was not present.")
    filters = _filters(_list(body, "filters"))
    items = _period_items(api, body, site)
    if ("steps" in body) == ("funnel" in body):
        raise QueryError("#: give either 'funnel' (a defined funnel's name) or 'steps'")
    if "steps" in body:
        try:
            funnel = checked("(steps)", body["steps"])
        except FunnelError as err:
            raise QueryError(f"#/steps: {err}") from None
    else:
        funnel = api.funnel_named(_text(body["funnel"], "#/funnel"))
    params = await api.params(_Query(QueryParams(items + filters)))
    steps = (await api.funnel(params, funnel))["steps"]
    return {
        "results": [
            {
                "step": s["step"],
                "label": s["label"],
                "visitors": s["visitors"],
                "dropoff": s["dropoff"],
                "dropoff_rate": _round("percentage", s["dropoff_rate"]),
                "conversion_rate": _round("conversion_rate", s["conversion_rate"]),
            }
            for s in steps
        ],
        "query": {
            "site_id": site,
            "funnel": funnel.name,
            "steps": list(funnel.steps),
            "date_range": _resolved_range(params),
            "filters": body.get("filters") or [],
        },
    }

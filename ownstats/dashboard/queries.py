"""The dashboard's SQL: every panel as one Athena-dialect query over the views.

Where it sits: between ``params`` (a validated request) and the backend (``Engine``
locally, ``AthenaBackend`` on AWS), which both take Athena SQL text.

One definition of each metric (docs/PROTOCOL.md, metrics): numbers come from the views in
``athena_views/``. Without filters a panel reads its view directly (locally those are
materialised per day, so panels answer in milliseconds). With filters, the panel runs
*the same view SQL* with its input narrowed: ``FROM sessions`` is replaced by the
matching visits of the requested days and ``FROM events`` by those visits' stored
events, and every view in between (``exit_pages`` → ``top_pages`` →
``events_deduped`` → ``events``; ``daily_stats`` → ``sessions``) is expanded from its
own file. So a filtered bounce rate is computed by ``daily_stats.sql`` itself, and
duplicates are removed by ``events_deduped.sql`` itself, never by a second formula.

Combining days: a range's figures add up the views' per-day rows. Visitors are summed
(the visitor hash changes daily: a multi-day range sums daily uniques); ratios are combined with the
counts the views expose for that purpose (``bounces``, ``total_visit_duration_s``) or
weighted by the row's own count (a day's bounce rate weighs by that day's visits).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import sqlglot
from sqlglot import exp

from athena_views import load_views
from ownstats.dashboard.params import FILTERS, NONE_VALUE, Params, sql_string

__all__ = [
    "BREAKDOWNS",
    "Breakdown",
    "breakdown_sql",
    "current_visitors_sql",
    "sites_sql",
    "summary_sql",
    "timeseries_sql",
]


@dataclass(frozen=True)
class Breakdown:
    """One breakdown panel: the view, its dimension, the filter a row click sets, and
    how each shown column combines the view's per-day rows over a range."""

    slug: str
    title: str
    view: str
    dimension: str
    filter: str | None
    metrics: tuple[tuple[str, str], ...]
    extra_dimensions: tuple[str, ...] = ()


def _by_visits(column: str, weight: str = "visits") -> str:
    return f"sum({column} * {weight}) / sum({weight})"


_VISIT_METRICS = (
    ("visitors", "sum(visitors)"),
    ("visits", "sum(visits)"),
    ("bounce_rate", _by_visits("bounce_rate")),
    ("avg_visit_duration_s", _by_visits("avg_visit_duration_s")),
)
_COUNT_METRICS = (("visitors", "sum(visitors)"), ("visits", "sum(visits)"))

BREAKDOWNS: dict[str, Breakdown] = {
    b.slug: b
    for b in (
        Breakdown(
            "pages",
            "Top pages",
            "top_pages",
            "page_path",
            "page",
            (
                ("visitors", "sum(visitors)"),
                ("pageviews", "sum(pageviews)"),
                ("avg_time_on_page_s", _by_visits("avg_time_on_page_s", "pageviews")),
            ),
        ),
        Breakdown(
            "entry-pages",
            "Entry pages",
            "entry_pages",
            "page_path",
            "entry_page",
            (
                ("visitors", "sum(visitors)"),
                ("entries", "sum(entries)"),
                ("bounce_rate", _by_visits("bounce_rate", "entries")),
            ),
        ),
        Breakdown(
            "exit-pages",
            "Exit pages",
            "exit_pages",
            "page_path",
            "exit_page",
            (
                ("visitors", "sum(visitors)"),
                ("exits", "sum(exits)"),
                # a day's page views are exits / exit_rate, so this is Σexits / Σviews
                ("exit_rate", "CAST(sum(exits) AS double) / sum(exits / exit_rate)"),
            ),
        ),
        Breakdown("sources", "Sources", "sources", "source", "source", _VISIT_METRICS),
        Breakdown("channels", "Channels", "channels", "channel", "channel", _VISIT_METRICS),
        Breakdown(
            "campaigns", "Campaigns", "campaigns", "utm_campaign", "campaign", _VISIT_METRICS
        ),
        Breakdown("countries", "Countries", "countries", "country_code", "country", _COUNT_METRICS),
        Breakdown("devices", "Devices", "devices", "device_type", "device", _COUNT_METRICS),
        Breakdown("browsers", "Browsers", "browsers", "browser_name", "browser", _COUNT_METRICS),
        Breakdown(
            "operating-systems",
            "Operating systems",
            "operating_systems",
            "os_name",
            "os",
            _COUNT_METRICS,
        ),
        Breakdown(
            "custom-events",
            "Goals",
            "custom_events",
            "event_name",
            "event",
            (("visitors", "sum(visitors)"), ("events", "sum(events)")),
        ),
        Breakdown(
            "event-props",
            "Event properties",
            "custom_event_props",
            "prop_value",
            None,
            (("visitors", "sum(visitors)"), ("events", "sum(events)")),
            extra_dimensions=("prop_key",),
        ),
    )
}


@functools.cache
def _view_sql() -> dict[str, str]:
    return {view.name: view.sql for view in load_views()}


def _where(site: str, start: date, end: date, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return (
        f"{prefix}event_date BETWEEN {sql_string(start.isoformat())} "
        f"AND {sql_string(end.isoformat())} AND {prefix}domain_name = {sql_string(site)}"
    )


def _equals(column: str, value: str) -> str:
    if value == NONE_VALUE:
        return f"{column} IS NULL"
    return f"{column} = {sql_string(value)}"


def _matching_sessions(params: Params, start: date, end: date) -> str:
    """The visits of the site and days that match every filter (a ``sessions`` subset).

    "Viewed page P" and "sent event E" are joins, not correlated EXISTS: engines plan a
    hash join on (day, site, visitor) with the time window as a residual far better.
    """

    def conditions(alias: str) -> list[str]:
        # spec.column comes from the allow-list, never from the request
        found = [_where(params.site, start, end, alias)]
        for name, value in params.filters:
            spec = FILTERS[name]
            if spec.kind == "session":
                found.append(_equals(f"{alias}.{spec.column}", value))
        return found

    joins = []
    for i, (name, value) in enumerate(params.filters):
        spec = FILTERS[name]
        if spec.kind == "session":
            continue
        # read through events_deduped: locally a per-day table (no Parquet scan), on
        # Athena the same view the panels use
        match = (
            f"x.event_type = 'pageview' AND {_equals('x.page_path', value)}"
            if spec.kind == "page"
            else f"x.event_type = 'event' AND {_equals('x.event_name', value)}"
        )
        joins.append(
            f"JOIN (SELECT DISTINCT v.event_date, v.visitor_id, v.visit_no FROM sessions AS v "
            "JOIN events_deduped AS x ON x.event_date = v.event_date "
            "AND x.domain_name = v.domain_name AND x.visitor_id = v.visitor_id "
            "AND x.event_time BETWEEN v.session_start AND v.session_end "
            f"WHERE {' AND '.join(conditions('v'))} AND {_where(params.site, start, end, 'x')} "
            f"AND {match}) AS k{i} "
            f"ON k{i}.event_date = s.event_date AND k{i}.visitor_id = s.visitor_id "
            f"AND k{i}.visit_no = s.visit_no"
        )
    where = " AND ".join(conditions("s"))
    return f"SELECT s.* FROM sessions AS s {' '.join(joins)} WHERE {where}"


def _matching_events(params: Params, start: date, end: date) -> str:
    """The deduplicated events of the matching visits (an ``events_deduped`` subset).

    A visit spans session_start..session_end of one visitor, and a visitor's visits
    never overlap, so the join gives each event at most once: exactly its visit's.
    Filtering after the dedupe equals deduping the filtered events (both copies of a
    duplicated event share visitor and time, so they are kept or dropped together);
    after it, the local engine reads its per-day table instead of Parquet.
    """
    return (
        f"SELECT e.* FROM events_deduped AS e JOIN ({_matching_sessions(params, start, end)}) "
        "AS m ON m.event_date = e.event_date AND m.domain_name = e.domain_name "
        "AND m.visitor_id = e.visitor_id AND e.event_time BETWEEN m.session_start "
        f"AND m.session_end WHERE {_where(params.site, start, end, 'e')}"
    )


def _expand(view: str, roots: dict[str, str]) -> exp.Expression:
    """``view``'s own SQL with its inputs replaced: roots by the given subqueries, other
    views by their (recursively expanded) SQL."""
    views = _view_sql()
    tree = sqlglot.parse_one(views[view], read="athena")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if not name or name in ctes or table.args.get("db"):
            continue
        if name in roots:
            inner = sqlglot.parse_one(roots[name], read="athena")
        elif name in views:
            inner = _expand(name, roots)
        else:
            continue
        alias = table.alias or name
        table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return tree


def source(view: str, params: Params, start: date, end: date) -> str:
    """What a panel selects ``FROM``: the view itself, or its filtered expansion."""
    if not params.filters:
        return view
    roots = {
        "sessions": _matching_sessions(params, start, end),
        "events_deduped": _matching_events(params, start, end),
    }
    return f"({_expand(view, roots).sql(dialect='athena')}) AS {view}"


def summary_sql(params: Params) -> str:
    """The six cards for the period and the previous one, one row each (``period``)."""
    prev_start, _ = params.previous
    return (
        "SELECT CASE WHEN event_date >= "
        f"{sql_string(params.start.isoformat())} THEN 'current' ELSE 'previous' END AS period, "
        "sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews, "
        "CAST(sum(pageviews) AS double) / sum(visits) AS views_per_visit, "
        "CAST(sum(bounces) AS double) / sum(visits) AS bounce_rate, "
        "CAST(sum(total_visit_duration_s) AS double) / sum(visits) AS visit_duration_s "
        f"FROM {source('daily_stats', params, prev_start, params.end)} "
        f"WHERE {_where(params.site, prev_start, params.end)} GROUP BY 1"
    )


def timeseries_sql(params: Params) -> tuple[str, str]:
    """The graph's query and its bucket column: hours of one day, or days of a range."""
    if params.days == 1:
        return (
            "SELECT event_hour AS bucket, sum(visitors) AS visitors, sum(pageviews) AS pageviews "
            f"FROM {source('hourly_stats', params, params.start, params.end)} "
            f"WHERE {_where(params.site, params.start, params.end)} "
            "GROUP BY event_hour ORDER BY 1"
        ), "hour"
    return (
        "SELECT event_date AS bucket, sum(visitors) AS visitors, sum(pageviews) AS pageviews "
        f"FROM {source('daily_stats', params, params.start, params.end)} "
        f"WHERE {_where(params.site, params.start, params.end)} "
        "GROUP BY event_date ORDER BY 1"
    ), "date"


def breakdown_sql(panel: Breakdown, params: Params, limit: int | None) -> str:
    """One breakdown over the range, biggest first; ``limit=None`` for every row (CSV)."""
    dims = (*panel.extra_dimensions, panel.dimension)
    metrics = ", ".join(f"{expr} AS {name}" for name, expr in panel.metrics)
    where = _where(params.site, params.start, params.end)
    if panel.slug == "event-props":
        where += f" AND event_name = {sql_string(params.prop_event or '')}"
    order = f"{panel.metrics[0][0]} DESC, {panel.metrics[1][0]} DESC, " + ", ".join(dims)
    sql = (
        f"SELECT {', '.join(dims)}, {metrics} "
        f"FROM {source(panel.view, params, params.start, params.end)} "
        f"WHERE {where} GROUP BY {', '.join(dims)} ORDER BY {order}"
    )
    return sql if limit is None else f"{sql} LIMIT {int(limit)}"


def current_visitors_sql(site: str) -> str:
    """Visitors of the last 5 minutes (the view; never filtered or ranged)."""
    return f"SELECT visitors FROM current_visitors WHERE domain_name = {sql_string(site)}"


def sites_sql(since: date) -> str:
    """Sites with events since ``since``, busiest first (the page opens on the first);
    reads one column of the partitions, so it stays cheap on Athena too (it is a list
    of names, not a metric)."""
    return (
        "SELECT domain_name FROM events "
        f"WHERE event_date >= {sql_string(since.isoformat())} AND domain_name IS NOT NULL "
        "GROUP BY domain_name ORDER BY count(*) DESC, domain_name"
    )

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

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlglot
from sqlglot import exp

from athena_views import load_views
from athena_views.zoned import local_events, to_utc
from ownstats.dashboard import filter_tree
from ownstats.dashboard.params import (
    NONE_VALUE,
    Clause,
    Params,
    Span,
    clause,
    spec_of,
    sql_string,
)
from stream_processor.schema import COLUMN_NAMES

__all__ = [
    "BREAKDOWNS",
    "Breakdown",
    "breakdown_sql",
    "conversions_sql",
    "current_visitors_sql",
    "first_day_sql",
    "freshness_sql",
    "minute_base",
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
    #: goals: also the share of the period's visitors who sent the event
    conversion: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of a row, in order (what a list may be sorted by)."""
        rate = ("conversion_rate",) if self.conversion else ()
        return (*self.extra_dimensions, self.dimension, *(m for m, _ in self.metrics), *rate)


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
                # each day's average of visitors' deepest scroll, weighed by its visitors
                # who reported one (days with none have a NULL depth and weight 0)
                (
                    "scroll_depth",
                    "sum(scroll_depth * scroll_visitors) / nullif(sum(scroll_visitors), 0)",
                ),
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
        Breakdown("mediums", "UTM medium", "utm_mediums", "utm_medium", "medium", _VISIT_METRICS),
        Breakdown("terms", "UTM term", "utm_terms", "utm_term", "term", _VISIT_METRICS),
        Breakdown(
            "contents", "UTM content", "utm_contents", "utm_content", "content", _VISIT_METRICS
        ),
        Breakdown("countries", "Countries", "countries", "country_code", "country", _COUNT_METRICS),
        Breakdown(
            "cities",
            "Edge cities",
            "edge_cities",
            "edge_city",
            None,
            (("visitors", "sum(visitors)"), ("pageviews", "sum(pageviews)")),
            extra_dimensions=("edge_country",),
        ),
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
            conversion=True,
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
        # the hostnames page views and custom events came from (no tab: the Stats API's
        # event:hostname, and the panel API)
        Breakdown(
            "hostnames",
            "Hostnames",
            "hostnames",
            "hostname",
            "hostname",
            (
                ("visitors", "sum(visitors)"),
                ("pageviews", "sum(pageviews)"),
                ("events", "sum(events)"),
            ),
        ),
        # every property's values over page views and custom events (prop_key= narrows
        # to one property: the Stats API's event:props:<name>)
        Breakdown(
            "props",
            "Properties",
            "event_props",
            "prop_value",
            None,
            (
                ("visitors", "sum(visitors)"),
                ("events", "sum(events)"),
                ("pageviews", "sum(pageviews)"),
            ),
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


def _match(column: str, found: Clause) -> str:
    """Whether ``column`` is one of the clause's values (or contains one, in any case);
    negation is the caller's: a visit "not from Google" is also one without a source."""
    parts = []
    for value in found.values:
        if found.regex:
            parts.append(f"regexp_like({column}, {sql_string(value)})")
        elif found.contains:
            parts.append(f"strpos(lower({column}), {sql_string(value.lower())}) > 0")
        elif value == NONE_VALUE:
            parts.append(f"{column} IS NULL")
        else:
            parts.append(f"{column} = {sql_string(value)}")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _condition(column: str, raw: str) -> str:
    found = clause(raw)
    matched = _match(column, found)
    return f"NOT coalesce({matched}, false)" if found.negated else matched


def _event_match(name: str, found: Clause, *, each: bool = False) -> str:
    """The events (alias ``x``) a page, goal or property filter looks for in a visit.
    With ``each``, a negated clause is the event's own ("a page view not of /a", for
    ``has_done``); otherwise negation is the caller's ("no page view of /a")."""
    spec = spec_of(name)
    if spec.kind == "page":
        kind, column = "x.event_type = 'pageview'", "x.page_path"
    elif spec.kind == "event":
        kind, column = "x.event_type = 'event'", "x.event_name"
    elif spec.kind == "hostname":
        kind, column = "x.event_type <> 'engagement'", "x.hostname"
    else:
        kind = "x.event_type <> 'engagement'"
        column = f"element_at(x.props, {sql_string(spec.column or '')})"
    matched = _match(column, found)
    if each and found.negated:
        matched = f"NOT coalesce({matched}, false)"
    return f"{kind} AND {matched}"


def _tree_condition(node: filter_tree.Node, alias: str, event_join: Callable[[str], str]) -> str:
    """The SQL condition on the visit ``alias`` of a filter expression; ``event_join``
    joins "the visit has such an event" and gives the join's alias."""
    if node.op in ("and", "or"):
        parts = [_tree_condition(child, alias, event_join) for child in node.children]
        return "(" + f" {node.op.upper()} ".join(parts) + ")"
    if node.op == "not":
        return f"NOT coalesce({_tree_condition(node.children[0], alias, event_join)}, false)"
    found = node.leaf
    assert found is not None
    spec = spec_of(found.name)
    if spec.kind == "session":
        matched = _match(f"{alias}.{spec.column}", found.clause)
        return f"NOT coalesce({matched}, false)" if found.clause.negated else matched
    if node.op == "leaf":  # "viewed /a"; negated: "never viewed /a", as the flat filters
        positive = dataclasses.replace(found.clause, op=found.clause.op.removesuffix("_not"))
        joined = event_join(_event_match(found.name, positive))
        absent = found.clause.negated
    else:
        joined = event_join(_event_match(found.name, found.clause, each=True))
        absent = node.op == "has_not_done"
    return f"{joined}.visitor_id IS {'NULL' if absent else 'NOT NULL'}"


def _matching_sessions(
    params: Params,
    start: date,
    end: date,
    sessions_from: str = "sessions",
    events_from: str = "events_deduped",
) -> str:
    """The visits of the site and days that match every filter (a ``sessions`` subset).

    "Viewed page P" and "sent event E" are joins, not correlated EXISTS: engines plan a
    hash join on (day, site, visitor) with the time window as a residual far better.
    """

    def conditions(alias: str) -> list[str]:
        # spec.column comes from the allow-list, never from the request
        found = [_where(params.site, start, end, alias)]
        for name, value in params.filters:
            spec = spec_of(name)
            if spec.kind == "session":
                found.append(_condition(f"{alias}.{spec.column}", value))
        return found

    joins: list[str] = []

    def join(match: str, *, left: bool = False) -> str:
        # read through events_deduped: locally a per-day table (no Parquet scan), on
        # Athena the same view the panels use
        alias = f"k{len(joins)}"
        joins.append(
            f"{'LEFT ' if left else ''}JOIN (SELECT DISTINCT v.event_date, "
            "v.visitor_id, v.visit_no "
            f"FROM {sessions_from} AS v "
            f"JOIN {events_from} AS x ON x.event_date = v.event_date "
            "AND x.domain_name = v.domain_name AND x.visitor_id = v.visitor_id "
            "AND x.event_time BETWEEN v.session_start AND v.session_end "
            f"WHERE {' AND '.join(conditions('v'))} AND {_where(params.site, start, end, 'x')} "
            f"AND {match}) AS {alias} "
            f"ON {alias}.event_date = s.event_date AND {alias}.visitor_id = s.visitor_id "
            f"AND {alias}.visit_no = s.visit_no"
        )
        return alias

    absent, trees = [], []
    for name, value in params.filters:
        kind = spec_of(name).kind
        if kind == "tree":
            trees.append(value)
        elif kind != "session":
            # "is not": the visits with no such event
            found = clause(value)
            alias = join(_event_match(name, found), left=found.negated)
            if found.negated:
                absent.append(f"{alias}.visitor_id IS NULL")
    for text in trees:
        # an expression may need an event in a visit on one branch only: left joins
        tree = filter_tree.parse(text)
        absent.append(_tree_condition(tree, "s", lambda match: join(match, left=True)))
    where = " AND ".join([*conditions("s"), *absent])
    return f"SELECT s.* FROM {sessions_from} AS s {' '.join(joins)} WHERE {where}"


def _events_of(
    visits: str, params: Params, start: date, end: date, events_from: str = "events_deduped"
) -> str:
    """The deduplicated events of ``visits`` (an ``events_deduped`` subset).

    A visit spans session_start..session_end of one visitor, and a visitor's visits
    never overlap, so the join gives each event at most once: exactly its visit's.
    Filtering after the dedupe equals deduping the filtered events (both copies of a
    duplicated event share visitor and time, so they are kept or dropped together);
    after it, the local engine reads its per-day table instead of Parquet.
    """
    return (
        f"SELECT e.* FROM {events_from} AS e JOIN {visits} "
        "AS m ON m.event_date = e.event_date AND m.domain_name = e.domain_name "
        "AND m.visitor_id = e.visitor_id AND e.event_time BETWEEN m.session_start "
        f"AND m.session_end WHERE {_where(params.site, start, end, 'e')}"
    )


#: the views that count events (not visits): under a page filter they count only the
#: events on the matching pages, as Plausible's page filter does
_EVENT_LEVEL = frozenset({"top_pages", "custom_events", "custom_event_props", "event_props",
                          "edge_cities", "hourly_stats", "minute_stats", "hostnames"})  # fmt: skip


def page_condition(params: Params, alias: str = "e") -> str | None:
    """The events a page filter keeps in the event counts, or None (Plausible's page
    filter: the visits that viewed the page, and of their events only those on it).

    Each ``is``/``contains`` page clause of the top-level AND (the URL's ``page=``, or a
    plain page leaf of a ``where`` expression) narrows the events to their page.
    Negated clauses narrow nothing: the visits they keep never viewed those pages.
    ``has_done`` and clauses under ``or``/``not`` select visits only, as
    ``has_done`` does in Plausible.
    """
    found: list[Clause] = []
    for name, value in params.filters:
        if name == "page":
            found.append(clause(value))
        elif spec_of(name).kind == "tree":
            tree = filter_tree.parse(value)
            for node in tree.children if tree.op == "and" else (tree,):
                if node.op == "leaf" and node.leaf is not None and node.leaf.name == "page":
                    found.append(node.leaf.clause)
    parts = [_match(f"{alias}.page_path", c) for c in found if not c.negated]
    return " AND ".join(parts) if parts else None


def _with_visits(
    view: str, visits: str, params: Params, start: date, end: date, events: str
) -> str:
    """``view``'s SQL over the matching visits and their events, the visits computed
    once in a CTE: views such as ``exit_pages`` read both (sessions and, through
    ``top_pages``, events), and inlining the visits twice made them run twice."""
    of_visits = _events_of("matching_visits", params, start, end, events)
    page = page_condition(params) if view in _EVENT_LEVEL else None
    roots = {
        "sessions": "SELECT * FROM matching_visits",
        "events_deduped": f"{of_visits} AND {page}" if page else of_visits,
    }
    body = _expanded_sql(view, tuple(roots.items()))
    return f"(WITH matching_visits AS ({visits}) {body}) AS {view}"


@functools.lru_cache(maxsize=256)
def _parsed(sql: str) -> exp.Expression:
    """A parse kept for reuse (callers copy it): parsing the views' SQL on every
    request cost more than running the query."""
    return sqlglot.parse_one(sql, read="athena")


def _expand(view: str, roots: dict[str, str], *, sql: str | None = None) -> exp.Expression:
    """``view``'s own SQL (or ``sql``) with its inputs replaced: roots by the given
    subqueries, other views by their (recursively expanded) SQL."""
    views = _view_sql()
    tree = _parsed(views[view] if sql is None else sql).copy()
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if not name or name in ctes or table.args.get("db"):
            continue
        if name in roots:
            inner = _parsed(roots[name]).copy()
        elif name in views:
            inner = _expand(name, roots)
        else:
            continue
        alias = table.alias or name
        table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return tree


@functools.lru_cache(maxsize=512)
def _expanded_sql(view: str, roots: tuple[tuple[str, str], ...]) -> str:
    """The expansion as Athena SQL, kept: a page's refreshes ask for the same ones."""
    return _expand(view, dict(roots)).sql(dialect="athena")


def source(view: str, params: Params, start: date, end: date) -> str:
    """What a panel selects ``FROM``: the view itself, or its filtered expansion."""
    if not params.filters:
        return view
    if view == "sessions":
        return f"({_matching_sessions(params, start, end)}) AS sessions"
    return _with_visits(
        view, _matching_sessions(params, start, end), params, start, end, "events_deduped"
    )


def _timestamp(moment: datetime) -> str:
    return f"TIMESTAMP '{moment.isoformat(sep=' ', timespec='milliseconds')}'"


def _cut_source(view: str, params: Params, span: Span) -> str:
    """``view`` over only the events of ``span``'s time window, by the view's own SQL.

    A partial day cannot be read from the views' per-day rows, so the visits of that
    window are recomputed by ``sessions.sql`` from its events (a visit still going at
    the cut is cut too, as today's are at "now"), then the view's SQL runs on them.
    """
    events = period_events(params, span)
    if params.filters:
        inputs = (f"({sessions_of(events)})", f"({events})")
        visits = _matching_sessions(params, span.start, span.end, *inputs)
        return _with_visits(view, visits, params, span.start, span.end, f"({events})")
    return view_over(view, {"events_deduped": events})


def view_over(view: str, roots: Mapping[str, str]) -> str:
    """``view``'s own SQL with the relations it reads (``events_deduped``, ``sessions``)
    replaced by the SELECTs of ``roots``, as a subquery named ``view``: an unfiltered cut
    is the view over its events; the hosted function reads a day too big to load over
    its stored visits instead (``lake_backend``)."""
    return f"({_expanded_sql(view, tuple(roots.items()))}) AS {view}"


def cut_sql(view: str, site: str, day: date, until: datetime, zone: str | None = None) -> str:
    """What an unfiltered page selects ``FROM`` for ``view`` on ``day`` up to ``until``
    (the previous period's last day, "until now"; today as of an hour), on UTC's clock or
    on ``zone``'s (``day`` and ``until`` then local)."""
    params = Params(site=site, period="custom", start=day, end=day, zone=zone)
    return _cut_source(view, params, Span(day, day, until=until))


def period_events(params: Params, span: Span) -> str:
    """The site's deduplicated events of ``span`` (its time window; its own clock)."""
    if params.zone is not None:
        return _local_events(params.site, params.zone, span)
    conditions = [_where(params.site, span.start, span.end)]
    if span.since is not None:
        conditions.append(f"event_time >= {_timestamp(span.since)}")
    if span.until is not None:
        conditions.append(f"event_time < {_timestamp(span.until)}")
    return f"SELECT * FROM events_deduped WHERE {' AND '.join(conditions)}"


def sessions_of(events: str) -> str:
    """The ``sessions`` view's own SQL over ``events`` (a cut or a time zone's days)."""
    return _expanded_sql("sessions", (("events_deduped", events),))


def period_visits(params: Params) -> tuple[str, str]:
    """The period's visits that match every filter, and what their events are read
    from: the views' per-day rows for whole UTC days, else (a cut, a site's own clock)
    ``sessions.sql`` over the period's events. For the questions the views' per-day rows
    cannot answer by themselves: funnels (which order a visit's events) and several
    dimensions at once."""
    span = params.span
    if span.cut or params.zone is not None:
        events = period_events(params, span)
        sessions_from, events_from = f"({sessions_of(events)})", f"({events})"
    else:
        sessions_from, events_from = "sessions", "events_deduped"
    if params.filters:
        visits = _matching_sessions(params, span.start, span.end, sessions_from, events_from)
    else:
        days = _where(params.site, span.start, span.end, "s")
        visits = f"SELECT * FROM {sessions_from} AS s WHERE {days}"
    return visits, events_from


def site_days(site: str, start: date, end: date, alias: str = "") -> str:
    return _where(site, start, end, alias)


def _local_events(site: str, name: str, span: Span) -> str:
    """The site's deduplicated events of ``span`` (local dates and wall times) with
    ``event_time`` and ``event_date`` in its time zone (``athena_views.zoned``)."""
    zone = ZoneInfo(name)
    low = to_utc(span.since or datetime.combine(span.start, time()), zone)
    high = to_utc(span.until or datetime.combine(span.end + timedelta(days=1), time()), zone)
    return zoned_events_sql(site, name, low, high)


def zoned_events_sql(site: str, zone: str, low: datetime, high: datetime) -> str:
    """The site's deduplicated events from ``low`` to ``high`` (naive UTC) on ``zone``'s
    clock: what a zoned page reads its events and visits from."""
    return local_events(zone, low, high, f"domain_name = {sql_string(site)}", COLUMN_NAMES)


def zoned_visits_sql(site: str, zone: str, low: datetime, high: datetime) -> str:
    """The ``sessions`` view's SQL over ``zoned_events_sql``: a filtered zoned page's
    visits before its filters. A local day's visits are computed from that day's events
    alone (``sessions.sql`` partitions by ``event_date``), so the hosted function can
    keep those of whole local days as tables (``lake_backend``)."""
    return sessions_of(zoned_events_sql(site, zone, low, high))


def zoned_days_sql(view: str, site: str, zone: str, start: date, end: date) -> str:
    """What an unfiltered page selects ``FROM`` for ``view`` over whole days
    ``start``..``end`` on a zone's clock: the view's SQL over the site's relabelled
    events. The compactor stores these rows per local day (``lake_compactor.roll_up``)
    and the hosted function reads them in its place."""
    params = Params(site=site, period="custom", start=start, end=end, zone=zone)
    return _cut_source(view, params, Span(start, end))


def _from_events(params: Params, part: Span) -> bool:
    """Whether ``part`` must be computed from its events rather than read from the
    views' per-day rows: a cut day, or any day on a site's own clock (the rows are UTC
    days)."""
    return part.cut or params.zone is not None


def _split(span: Span, params: Params) -> list[Span]:
    """``span`` as whole days (readable from the views' per-day rows) and a cut part.

    In a site's own time zone nothing is a whole UTC day: both parts are computed from
    events, but an unfiltered page's whole local days are their own part
    (``zoned_days_sql``), which the hosted function reads from the compactor's rows of
    those days; a filtered one is one part (its visits are matched once)."""
    if span.since is not None or span.until is None:
        return [span]
    if params.zone is not None and params.filters:
        return [span]
    parts = []
    if span.end > span.start:
        parts.append(Span(span.start, span.end - timedelta(days=1)))
    parts.append(Span(span.end, span.end, until=span.until))
    return parts


def _from(view: str, params: Params, part: Span) -> str:
    if _from_events(params, part):
        return _cut_source(view, params, part)
    return source(view, params, part.start, part.end)


def _parts(view: str, params: Params, span: Span) -> list[tuple[str, Span]]:
    """What to select ``FROM`` for ``span``, with the days each part covers: the view
    (or its filtered expansion) for whole days, its own SQL over the events of a cut."""
    return [(_from(view, params, part), part) for part in _split(span, params)]


def _labelled(view: str, params: Params, parts: list[tuple[str, Span]], columns: str) -> list[str]:
    """SELECTs of ``columns`` with a ``period`` label per part.

    Filtered whole days of the period and of the compared one are read through *one*
    filtered expansion when they are (nearly) adjacent, as with "previous period": the
    matching visits are then found once, not twice.
    """
    whole = [(label, part) for label, part in parts if not _from_events(params, part)]
    selects = [
        f"SELECT {sql_string(label)} AS period, {columns} FROM {_from(view, params, part)} "
        f"WHERE {_where(params.site, part.start, part.end)}"
        for label, part in parts
        if _from_events(params, part)
    ]
    first = min((p.start for _, p in whole), default=None)
    last = max((p.end for _, p in whole), default=None)
    covered = sum(p.days for _, p in whole)
    if (
        params.filters
        and len(whole) > 1
        and first
        and last
        and (last - first).days + 1 <= covered + 2
    ):
        label = " ".join(
            f"WHEN event_date BETWEEN {sql_string(p.start.isoformat())} "
            f"AND {sql_string(p.end.isoformat())} THEN {sql_string(name)}"
            for name, p in whole
        )
        selects.append(
            f"SELECT * FROM (SELECT CASE {label} END AS period, {columns} "
            f"FROM {source(view, params, first, last)} WHERE {_where(params.site, first, last)}) "
            "AS w WHERE period IS NOT NULL"
        )
    else:
        selects += [
            f"SELECT {sql_string(name)} AS period, {columns} FROM {_from(view, params, part)} "
            f"WHERE {_where(params.site, part.start, part.end)}"
            for name, part in whole
        ]
    return selects


_TOTALS = "visitors, visits, pageviews, bounces, total_visit_duration_s"
#: the same columns from daily_stats without its page views, and from top_pages with
#: only them (a page filter's page views)
_VISIT_TOTALS = "visitors, visits, 0 AS pageviews, bounces, total_visit_duration_s"
_PAGE_TOTALS = "0 AS visitors, 0 AS visits, pageviews, 0 AS bounces, 0 AS total_visit_duration_s"
#: the cards' figures from daily_stats rows: counts summed, ratios from summed counts
_CARD_METRICS = (
    "sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews, "
    "CAST(sum(pageviews) AS double) / sum(visits) AS views_per_visit, "
    "CAST(sum(bounces) AS double) / sum(visits) AS bounce_rate, "
    "CAST(sum(total_visit_duration_s) AS double) / sum(visits) AS visit_duration_s"
)


_PAGED_CARD_METRICS = _CARD_METRICS.replace(
    "CAST(sum(pageviews) AS double) / sum(visits) AS views_per_visit",
    "CAST(NULL AS double) AS views_per_visit",
)


def _without_goal(params: Params) -> Params:
    """The conversion rate's denominator: the same filters but the goal (Plausible's
    "same filters but the goal"). With ``source=Google`` it is Google's visitors, not
    every visitor: CR by source is what a goal is read by first."""
    kept = tuple((name, value) for name, value in params.filters if spec_of(name).kind != "event")
    return dataclasses.replace(params, filters=kept)


def _period_parts(params: Params) -> list[tuple[str, Span]]:
    """The cards' parts, labelled 'current' and (when compared) 'previous'."""
    spans = [("current", params.span)]
    if params.previous is not None:
        spans.append(("previous", params.previous))
    return [(label, part) for label, span in spans for part in _split(span, params)]


def summary_sql(params: Params) -> str:
    """The cards, one row per ``period``: 'current', 'previous' (when compared) and,
    with a goal filter, 'current_all'/'previous_all' (every visitor: the conversion
    rate's denominator)."""
    parts = _period_parts(params)
    paged = page_condition(params) is not None
    # under a page filter, page views are the page's own (top_pages), as Plausible counts
    # them; views per visit has no meaning then (Plausible refuses it too)
    selects = _labelled("daily_stats", params, parts, _VISIT_TOTALS if paged else _TOTALS)
    if paged:
        selects += _labelled("top_pages", params, parts, _PAGE_TOTALS)
    if any(spec_of(name).kind == "event" for name, _ in params.filters):
        everyone = _without_goal(params)
        selects += _labelled("daily_stats", everyone, [(f"{n}_all", p) for n, p in parts], _TOTALS)
    metrics = _PAGED_CARD_METRICS if paged else _CARD_METRICS
    return f"SELECT period, {metrics} FROM ({' UNION ALL '.join(selects)}) AS t GROUP BY period"


def conversions_sql(params: Params) -> str | None:
    """Total conversions under a goal filter, one row per ``period``: how many of the
    goal's events the matching visits sent (Plausible's "Total conversions", next to
    the unique visitors who converted). ``None`` without a goal filter."""
    goals = [clause(value) for name, value in params.filters if spec_of(name).kind == "event"]
    if not goals:
        return None
    matched = " AND ".join(_match("event_name", goal) for goal in goals)
    parts = _period_parts(params)
    counted = f"CASE WHEN {matched} THEN events ELSE 0 END AS events"
    selects = _labelled("custom_events", params, parts, counted)
    return (
        f"SELECT period, sum(events) AS total_conversions FROM ({' UNION ALL '.join(selects)}) "
        "AS t GROUP BY period"
    )


def minute_base(span: Span) -> datetime:
    """The first minute of the realtime graph: 30 buckets, the last one holding now."""
    assert span.since is not None
    return span.since.replace(second=0, microsecond=0)


def _bucketed(
    view: str,
    params: Params,
    span: Span,
    bucket: str,
    metrics: str,
    where: str = "",
    *,
    also: tuple[tuple[str, str], ...] = (),
    columns: str = "*",
) -> str:
    """``metrics`` per ``bucket`` of ``view``'s rows (its ``columns``), and of the
    ``also`` views' rows (view, columns) unioned with them."""
    selects = [
        f"SELECT {bucket} AS bucket, {cols} FROM {src} "
        f"WHERE {_where(params.site, part.start, part.end)}"
        for name, cols in ((view, columns), *also)
        for src, part in _parts(name, params, span)
    ]
    return (
        f"SELECT bucket, {metrics} FROM ({' UNION ALL '.join(selects)}) AS t "
        f"{where} GROUP BY bucket ORDER BY bucket"
    )


_ACTIVITY = "sum(visitors) AS visitors, sum(pageviews) AS pageviews"
#: visit figures of sessions rows, grouped by the hour/minute the visit started in
_VISITS = (
    "count(*) AS visits, CAST(sum(pageviews) AS double) / count(*) AS views_per_visit, "
    "CAST(sum(CASE WHEN is_bounce THEN 1 ELSE 0 END) AS double) / count(*) AS bounce_rate, "
    "CAST(sum(duration_s) AS double) / count(*) AS visit_duration_s"
)


def timeseries_sql(params: Params, span: Span) -> list[str]:
    """The graph's queries over ``span``, each giving ``bucket`` and some metrics.

    Days, weeks and months add up ``daily_stats`` rows (visitors: summed daily uniques);
    hours and minutes take visitors and pageviews from ``hourly_stats`` /
    ``minute_stats`` (active in that hour or minute) and the visit figures from the
    ``sessions`` rows that started in it.
    """
    interval = params.interval
    if interval in ("day", "week", "month"):
        bucket = "event_date"
        if interval != "day":
            bucket = (
                f"CAST(CAST(date_trunc('{interval}', CAST(event_date AS date)) AS date) AS varchar)"
            )
        if page_condition(params) is None:
            return [_bucketed("daily_stats", params, span, bucket, _CARD_METRICS)]
        return [
            _bucketed(
                "daily_stats", params, span, bucket, _PAGED_CARD_METRICS,
                columns=_VISIT_TOTALS, also=(("top_pages", _PAGE_TOTALS),),
            )
        ]  # fmt: skip
    if interval == "hour":
        return [
            _bucketed("hourly_stats", params, span, "event_hour", _ACTIVITY),
            _bucketed("sessions", params, span, "hour(session_start)", _VISITS),
        ]
    base = _timestamp(minute_base(span))
    # the window's own events, as every other realtime figure: the cut's minutes are the
    # whole day's (whole minutes), a filter's visits are those seen in the window, and
    # the hosted function reads a too-big day's last minutes from its newest objects
    activity = _bucketed(
        "minute_stats", params, span, f"date_diff('minute', {base}, event_minute)", _ACTIVITY
    )
    minute = f"date_diff('minute', {base}, date_trunc('minute', session_start))"
    return [
        activity.replace(" GROUP BY bucket", " WHERE bucket >= 0 GROUP BY bucket"),
        _bucketed("sessions", params, span, minute, _VISITS).replace(
            " GROUP BY bucket", " WHERE bucket >= 0 GROUP BY bucket"
        ),
    ]


def breakdown_sql(panel: Breakdown, params: Params, limit: int | None) -> str:
    """One breakdown over the range, biggest first (or as ``order_by`` asks), narrowed
    by ``search``; ``limit=None`` for every row (CSV)."""
    dims = (*panel.extra_dimensions, panel.dimension)
    metrics = ", ".join(f"{expr} AS {name}" for name, expr in panel.metrics)
    # realtime is a cut of today (its last 30 minutes): the view's own SQL over those
    # events, as the cards and the graph count them; whole days read the views' rows
    span = params.span
    if panel.conversion:
        everyone = _without_goal(params)
        visitors = (
            f"SELECT sum(visitors) FROM {_from('daily_stats', everyone, span)}"
            f" WHERE {_where(params.site, params.start, params.end)}"
        )
        metrics += f", CAST(sum(visitors) AS double) / ({visitors}) AS conversion_rate"
    where = _where(params.site, params.start, params.end)
    if panel.slug == "event-props":
        where += f" AND event_name = {sql_string(params.prop_event or '')}"
    if panel.slug == "props" and params.prop_key is not None:
        where += f" AND prop_key = {sql_string(params.prop_key)}"
    if params.search:
        needle = sql_string(params.search.lower())
        where += f" AND strpos(lower({panel.dimension}), {needle}) > 0"
    order = f"{panel.metrics[0][0]} DESC, {panel.metrics[1][0]} DESC, " + ", ".join(dims)
    if params.order_by:  # allow-listed against panel.columns by params.parse
        order = f"{params.order_by} {params.order.upper()} NULLS LAST, {order}"
    sql = (
        f"SELECT {', '.join(dims)}, {metrics} "
        f"FROM {_from(panel.view, params, span)} "
        f"WHERE {where} GROUP BY {', '.join(dims)} ORDER BY {order}"
    )
    if limit is None:
        return sql
    offset = f" OFFSET {int(params.offset)}" if params.offset else ""
    return f"{sql}{offset} LIMIT {int(limit)}"


def current_visitors_sql(site: str) -> str:
    """Visitors of the last 5 minutes (the view; never filtered or ranged)."""
    return f"SELECT visitors FROM current_visitors WHERE domain_name = {sql_string(site)}"


def freshness_sql(site: str, since: date) -> str:
    """The newest event time the backend can see for ``site`` (since ``since``, so
    Athena reads two partitions' ``event_time`` column at most)."""
    return (
        "SELECT max(event_time) AS newest FROM events "
        f"WHERE event_date >= {sql_string(since.isoformat())} "
        f"AND domain_name = {sql_string(site)}"
    )


def sites_sql(since: date, *, rollups: bool = False) -> str:
    """Sites with events since ``since``, busiest first (the page opens on the first),
    with their first day since then (period=all); reads one column of the partitions,
    so it stays cheap on Athena too (a list of names, not a metric). ``rollups``: a
    backend that keeps ``daily_stats`` per day reads its rows instead (a row per site
    and day, not per event), busiest by page views."""
    if rollups:
        return (
            "SELECT domain_name, min(event_date) AS first_day FROM daily_stats "
            f"WHERE event_date >= {sql_string(since.isoformat())} AND domain_name IS NOT NULL "
            "GROUP BY domain_name ORDER BY sum(pageviews) DESC, domain_name"
        )
    return (
        "SELECT domain_name, min(event_date) AS first_day FROM events "
        f"WHERE event_date >= {sql_string(since.isoformat())} AND domain_name IS NOT NULL "
        "GROUP BY domain_name ORDER BY count(*) DESC, domain_name"
    )


def first_day_sql(site: str, *, rollups: bool = False) -> str:
    """A site's first day with events, over every partition: only asked when its data
    is older than the site list's look-back (period=all)."""
    relation = "daily_stats" if rollups else "events"
    return (
        f"SELECT min(event_date) AS first_day FROM {relation} "
        f"WHERE domain_name = {sql_string(site)}"
    )

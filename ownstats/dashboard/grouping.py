"""Several dimensions at once (the Stats API's ``dimensions``), by the views' own SQL.

Two shapes, one rule: every figure is computed by the view that defines it, over the
period's matching visits (queries.period_visits), never by a second formula.

- **Visit attributes** (source, device, …) and a day/week/month bucket: ``daily_stats.sql``
  grouped by those columns of ``sessions`` (``grouped_sql``), so each row equals the
  cards under the matching filters.
- **An event-level dimension** (a page, goal, hostname, property value, edge city, or an
  hour) with visit attributes: the event view (``top_pages``, ``custom_events``, …) run
  over the visits' events with each event's ``domain_name`` replaced by its *visit
  group*, the number of its visit's combination of attributes (``event_grouped_sql``).
  The view groups and joins by ``domain_name`` already, so it splits its rows by the
  combination without being rewritten; the group numbers are then mapped back to the
  attributes. A visitor with visits from two sources counts once under each, as
  Plausible counts a visit attribute with an event dimension.
"""

from __future__ import annotations

import functools

from sqlglot import exp

from ownstats.dashboard.params import Params, clause, spec_of
from ownstats.dashboard.queries import (
    _CARD_METRICS,
    _VISITS,
    _expand,
    _match,
    _parsed,
    _view_sql,
    _where,
    _without_goal,
    page_condition,
    period_visits,
)
from stream_processor.schema import ALL_COLUMN_NAMES

#: a time dimension's bucket of a row's day (``event_date``, the site's own day)
DAY_BUCKETS = {
    "day": "event_date",
    "week": "CAST(date_trunc('week', CAST(event_date AS date)) AS varchar)",
    "month": "CAST(date_trunc('month', CAST(event_date AS date)) AS varchar)",
}
#: the hour of a row of ``hourly_stats``, as Plausible labels it ("2026-12-04 13:00:00")
_HOUR_LABEL = "concat(event_date, ' ', lpad(CAST({hour} AS varchar), 2, '0'), ':00:00')"
HOUR = "hour"


@functools.lru_cache(maxsize=64)
def _stats_grouped_by(columns: tuple[str, ...]) -> str:
    """``daily_stats``'s own SQL, also grouped by the visit ``columns``: the cards'
    figures split by those attributes, with no second formula."""
    tree = _parsed(_view_sql()["daily_stats"]).copy()
    assert isinstance(tree, exp.Select)
    for column in columns:
        tree = tree.select(column).group_by(column)
    return tree.sql(dialect="athena")


def grouped_sql(params: Params, columns: tuple[str, ...], bucket: str | None = None) -> str:
    """The cards' figures per combination of visit ``columns`` (``sessions`` columns:
    source, device_type, …) and, with ``bucket`` (day, week, month), per time bucket:
    ``d0, d1, …`` then the cards' columns, one row per combination over the period."""
    visits, _ = period_visits(params)
    per_day = _expand(
        "", {"sessions": "SELECT * FROM matching_visits"}, sql=_stats_grouped_by(columns)
    ).sql(dialect="athena")
    keys = [*columns, *([DAY_BUCKETS[bucket]] if bucket else [])]
    dims = ", ".join(f"{key} AS d{i}" for i, key in enumerate(keys))
    grouped = f" GROUP BY {', '.join(keys)}" if keys else ""
    return (
        f"WITH matching_visits AS ({visits}) SELECT {dims + ', ' if dims else ''}"
        f"{_CARD_METRICS} FROM ({per_day}) AS per_day{grouped}"
    )


def event_grouped_sql(
    params: Params,
    view: str,
    keys: tuple[str, ...],
    aggregates: tuple[tuple[str, str], ...],
    columns: tuple[str, ...],
    bucket: str | None = None,
    where: str = "",
    attribute: str | None = None,
) -> str:
    """``aggregates`` (name, expression over ``view``'s rows) per combination of the
    visit ``columns``, the view's ``keys``, an event ``attribute`` (a second event-level
    dimension: its value on each event the view counts) and a ``bucket`` (day, week,
    month, or ``HOUR``): ``d0, d1, …`` in that order, then the aggregates by name. With ``HOUR``
    and ``hourly_stats``, the visit figures of the visits that started in each hour join
    them (``visits``, ``views_per_visit``, ``bounce_rate``, ``visit_duration_s``), as the
    graph's hours count them; another view by hour sees each event's hour folded into
    its group (``<group>/<hour>``), so it splits its rows by hour unchanged too, and the
    attribute is folded the same way (``<group>[/<hour>]/v<value>``).

    Under a page filter the view counts only the events on the page (Plausible's page
    filter, as the panels do).
    """
    visits, events_from = period_visits(params)
    span = params.span
    if columns:
        order = ", ".join(f"m.{c}" for c in columns)
        rank = f"dense_rank() OVER (ORDER BY {order})"
    else:
        rank = "1"
    kept = ", ".join(f"e.{c}" for c in ALL_COLUMN_NAMES if c != "domain_name")
    # what the view cannot split by itself is folded into each event's group, after it:
    # the hour (a view without one of its own), then a second event attribute
    # (``attribute``, an expression over the event ``e``), marked so NULL stays NULL
    hourly = bucket == HOUR and view != "hourly_stats"
    parts = ["CAST(m.visit_group AS varchar)"]
    if hourly:
        parts.append("CAST(hour(e.event_time) AS varchar)")
    if attribute is not None:
        parts.append(f"CASE WHEN {attribute} IS NULL THEN 'n' ELSE concat('v', {attribute}) END")
    folded = len(parts) > 1
    separator = ", '/', "
    group = f"concat({separator.join(parts)})" if folded else parts[0]
    events = (
        f"SELECT {kept}, {group} AS domain_name FROM {events_from} "
        "AS e JOIN grouped_visits AS m ON m.event_date = e.event_date AND m.domain_name = "
        "e.domain_name AND m.visitor_id = e.visitor_id AND e.event_time BETWEEN "
        f"m.session_start AND m.session_end WHERE {_where(params.site, span.start, span.end, 'e')}"
    )
    page = page_condition(params)
    if page is not None:
        events += f" AND {page}"
    rows = _expand(view, {"events_deduped": events}).sql(dialect="athena")
    time_key = None
    if hourly:
        time_key = _HOUR_LABEL.format(hour="CAST(split_part(v.domain_name, '/', 2) AS integer)")
    elif bucket == HOUR:
        time_key = _HOUR_LABEL.format(hour="event_hour")
    elif bucket is not None:
        time_key = DAY_BUCKETS[bucket]
    grouping = [f"v.{k}" for k in keys]
    if attribute is not None:
        # the marked value is what follows the group (and hour) and its slash
        prefix = "split_part(v.domain_name, '/', 1)"
        if hourly:
            prefix = f"concat({prefix}, '/', split_part(v.domain_name, '/', 2))"
        marked = f"substr(v.domain_name, length({prefix}) + 2)"
        grouping.append(f"CASE WHEN {marked} = 'n' THEN NULL ELSE substr({marked}, 2) END")
    grouping += [time_key] if time_key else []
    named = [*(f"{g} AS k{i}" for i, g in enumerate(grouping))]
    visit_group = "split_part(v.domain_name, '/', 1)" if folded else "v.domain_name"
    per_group = (
        f"SELECT {visit_group} AS visit_group{''.join(', ' + n for n in named)}, "
        f"{', '.join(f'{expr} AS {name}' for name, expr in aggregates)} "
        f"FROM ({rows}) AS v{f' WHERE {where}' if where else ''} "
        f"GROUP BY {visit_group}{''.join(', ' + g for g in grouping)}"
    )
    dims = [f"g.d{i}" for i in range(len(columns))]
    dims += [f"p.k{i} AS d{len(columns) + i}" for i in range(len(grouping))]
    picked = [f"p.{name}" for name, _ in aggregates]
    joins = ""
    if bucket == HOUR and not hourly:
        started = _HOUR_LABEL.format(hour="hour(session_start)")
        joins = (
            f" LEFT JOIN (SELECT CAST(visit_group AS varchar) AS visit_group, {started} AS k, "
            f"{_VISITS} FROM grouped_visits GROUP BY visit_group, {started}) AS h "
            f"ON h.visit_group = p.visit_group AND h.k = p.k{len(grouping) - 1}"
        )
        picked += ["coalesce(h.visits, 0) AS visits", "h.views_per_visit", "h.bounce_rate",
                   "h.visit_duration_s"]  # fmt: skip
    attributes = ", ".join(f"{c} AS d{i}" for i, c in enumerate(columns))
    return (
        f"WITH matching_visits AS ({visits}), "
        f"grouped_visits AS (SELECT m.*, {rank} AS visit_group FROM matching_visits AS m), "
        f"visit_groups AS (SELECT DISTINCT visit_group{', ' + attributes if attributes else ''} "
        "FROM grouped_visits) "
        f"SELECT {', '.join([*dims, *picked])} FROM ({per_group}) AS p "
        f"JOIN visit_groups AS g ON CAST(g.visit_group AS varchar) = p.visit_group{joins}"
    )


def with_conversion_rate(
    sql: str, params: Params, columns: tuple[str, ...], bucket: str | None, time_at: int | None
) -> str:
    """``sql``'s rows (``d0…`` with the visit ``columns`` first and, at ``d{time_at}``, the
    day/week/month bucket) and their ``conversion_rate``: the row's visitors over the
    visitors of the same visit attributes and bucket under the same filters but the goal
    (Plausible's conversion rate, as the Goals panel has it)."""
    if bucket == HOUR:  # each hour's visitors, as the hourly graph counts them
        everyone = event_grouped_sql(
            _without_goal(params), "hourly_stats", (), (("visitors", "sum(visitors)"),),
            columns, HOUR,
        )  # fmt: skip
    else:
        everyone = grouped_sql(_without_goal(params), columns, bucket)
    on = same_dimensions("a", "r", len(columns))
    if bucket is not None and time_at is not None:
        on += f" AND a.d{len(columns)} = r.d{time_at}"
    return (
        "SELECT r.*, CAST(r.visitors AS double) / nullif(a.visitors, 0) AS conversion_rate "
        f"FROM ({sql}) AS r LEFT JOIN ({everyone}) AS a ON {on}"
    )


def same_dimensions(left: str, right: str, count: int) -> str:
    """Two grouped results joined on their first ``count`` dimensions (``d0…``), a NULL
    value (no source, say) equal to a NULL one."""
    pairs = [f"{left}.d{i} IS NOT DISTINCT FROM {right}.d{i}" for i in range(count)]
    return " AND ".join(pairs) or "TRUE"


def events_sql(params: Params, columns: tuple[str, ...], bucket: str | None = None) -> str:
    """Plausible's ``events`` per combination of visit ``columns`` and ``bucket``
    (``d0…``, then ``events``): page views and custom events (``hostnames`` counts
    both, whatever their hostname), or under a goal filter the goal's own events (the
    cards' "total conversions")."""
    goals = [clause(value) for name, value in params.filters if spec_of(name).kind == "event"]
    if goals:
        matched = " AND ".join(_match("event_name", goal) for goal in goals)
        return event_grouped_sql(
            params, "custom_events", (), (("events", "sum(events)"),), columns, bucket, matched
        )
    return event_grouped_sql(params, "hostnames", (), (("events", "sum(events)"),), columns, bucket)

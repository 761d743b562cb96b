"""The dashboard API's input, parsed once at the edge into a typed, validated value.

Everything the browser sends (site, period, dates, filters) passes through ``parse``
before any SQL is written: the backend takes SQL *text* (DuckDB locally, Athena on
AWS), so values are only ever embedded as escaped string literals, and column names
only ever come from the allow-list below, never from the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from athena_views.zoned import to_local

__all__ = [
    "COMPARISONS",
    "FILTERS",
    "NONE_VALUE",
    "PERIODS",
    "BadRequest",
    "Filter",
    "Params",
    "Span",
    "parse",
    "shown",
    "sql_string",
    "utc_today",
]

PERIODS = (
    "realtime",
    "today",
    "yesterday",
    "7d",
    "30d",
    "month",
    "last_month",
    "year",
    "12mo",
    "all",
    "custom",
)
DEFAULT_PERIOD = "30d"
#: what the cards and the graph compare with (Plausible's names)
COMPARISONS = ("off", "previous_period", "year_over_year")
DEFAULT_COMPARISON = "previous_period"
#: the window of the realtime period
REALTIME_MINUTES = 30
#: breakdown columns a list may be sorted by are the panel's own; these are the ways
ORDERS = ("desc", "asc")
MAX_OFFSET = 100_000
#: the longest range a request may ask for: twenty years of days (ten rejected
#: 2016-01-01 → today for a site that old)
MAX_RANGE_DAYS = 7310
#: how a filter asks for "the value is missing" (a visit without country, campaign …)
NONE_VALUE = "(none)"
MAX_VALUE_LENGTH = 2000
#: the dates a request may name: from the Unix epoch (no event is older) to a bound that
#: leaves room for the previous period and the day after without leaving ``date``'s range
MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(2999, 12, 31)
MAX_LIMIT = 1000
# ASCII digits only: ``\d`` and ``str.isdigit`` also take "²", "١" or "𝟙"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[0-9]{1,9}")


class BadRequest(ValueError):
    """The request cannot be answered as asked; the message says how to fix it."""


@dataclass(frozen=True)
class Filter:
    """One allow-listed filter: the URL parameter, its label and what it narrows.

    ``kind`` is ``"session"`` for a column of the ``sessions`` view (the visit's
    attribute), ``"page"`` for "the visit viewed this page" and ``"event"`` for "the
    visit sent this custom event", ``"hostname"`` for "the visit had an event on this
    hostname".
    """

    param: str
    label: str
    kind: str
    column: str | None = None


FILTERS: dict[str, Filter] = {
    f.param: f
    for f in (
        Filter("page", "Page", "page"),
        Filter("entry_page", "Entry page", "session", "entry_page"),
        Filter("exit_page", "Exit page", "session", "exit_page"),
        Filter("source", "Source", "session", "source"),
        Filter("channel", "Channel", "session", "channel"),
        Filter("campaign", "Campaign", "session", "utm_campaign"),
        Filter("medium", "UTM medium", "session", "utm_medium"),
        Filter("term", "UTM term", "session", "utm_term"),
        Filter("content", "UTM content", "session", "utm_content"),
        Filter("country", "Country", "session", "country_code"),
        Filter("device", "Device", "session", "device_type"),
        Filter("browser", "Browser", "session", "browser_name"),
        Filter("os", "OS", "session", "os_name"),
        Filter("event", "Event", "event"),
        # the Stats API's other visit attributes (no panel of their own; any panel
        # takes them as filters)
        Filter("referrer", "Referrer", "session", "referrer_url"),
        Filter("utm_source", "UTM source", "session", "utm_source"),
        Filter("browser_version", "Browser version", "session", "browser_version"),
        Filter("os_version", "OS version", "session", "os_version"),
        Filter("hostname", "Hostname", "hostname"),
    )
}

#: a custom property filter is ``prop.<key>=<value>`` (the key as the tracker sent it)
PROP_PREFIX = "prop."
MAX_PROP_FILTERS = 5
MAX_FILTER_VALUES = 20
#: what a filter's value may ask, in Plausible's dashboard URL syntax: ``a|b`` is one of
#: several values, a leading ``!`` negates, a leading ``~`` is "contains" (any case);
#: ``\|``, ``\!``, ``\~`` and ``\\`` are the characters themselves
OPERATORS = ("is", "is_not", "contains", "contains_not")
_PROP_KEY = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


@dataclass(frozen=True)
class Clause:
    """One filter's operator and values, parsed from its URL value."""

    op: str
    values: tuple[str, ...]

    @property
    def negated(self) -> bool:
        return self.op.endswith("_not")

    @property
    def contains(self) -> bool:
        return self.op.startswith("contains")

    @property
    def regex(self) -> bool:
        """``matches``/``matches_not`` (RE2 patterns; the Stats API's ``where`` only)."""
        return self.op.startswith("matches")


def clause(raw: str) -> Clause:
    """``!~blog|news`` → Clause("contains_not", ("blog", "news"))."""
    negated = raw.startswith("!")
    rest = raw[1:] if negated else raw
    contains = rest.startswith("~")
    rest = rest[1:] if contains else rest
    values, current, i = [], [], 0
    while i < len(rest):
        char = rest[i]
        if char == "\\" and i + 1 < len(rest) and rest[i + 1] in "|!~\\":
            current.append(rest[i + 1])
            i += 2
            continue
        if char == "|":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    values.append("".join(current))
    op = ("contains" if contains else "is") + ("_not" if negated else "")
    return Clause(op, tuple(values))


#: the boolean expression of filters (filter_tree): one more filter, its value JSON
WHERE = "where"


def spec_of(name: str) -> Filter:
    """The allow-listed filter, the custom property one a ``prop.<key>`` name is, or the
    expression ``where`` is."""
    if name == WHERE:
        return Filter(WHERE, "Filter expression", "tree")
    if name.startswith(PROP_PREFIX):
        key = name[len(PROP_PREFIX) :]
        return Filter(name, f"Property {key}", "prop", key)
    return FILTERS[name]


#: parameters that are not filters; anything else in a request is an error
_CONTROL = (
    "site",
    "period",
    "from",
    "to",
    "limit",
    "format",
    "prop_event",
    "prop_key",
    "comparison",
    "search",
    "order_by",
    "order",
    "offset",
    "interval",
)
#: the graph's buckets a long range may be drawn in; more buckets than this is a 400
MAX_BUCKETS = 800


def sql_string(value: str) -> str:
    """An Athena/DuckDB string literal: single quotes doubled, nothing else needed.

    Both dialects treat backslashes literally inside '…', so doubling the quote is the
    complete escape; NUL is refused at parse time because neither engine accepts it.
    """
    return "'" + value.replace("'", "''") + "'"


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted for an error message, cut short: the request may be megabytes."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def utc_today() -> date:
    """Today in UTC: the lake's ``event_date`` is the UTC day of the event."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Span:
    """Days ``start``..``end`` of the lake, optionally cut to a time window.

    ``since``/``until`` (naive UTC, like ``event_time``) keep only events at or after /
    before that moment. They exist so a partial period is compared with the *same
    elapsed part* of the previous one: today at 04:00 against yesterday until 04:00,
    not against all of yesterday (which made every card a red drop each morning).
    """

    start: date
    end: date
    since: datetime | None = None
    until: datetime | None = None

    @property
    def days(self) -> int:
        """Length in days (a single day is 1)."""
        return (self.end - self.start).days + 1

    @property
    def cut(self) -> bool:
        """Whether only part of the days' events count (then views cannot be read whole)."""
        return self.since is not None or self.until is not None


@dataclass(frozen=True)
class Params:
    """A validated request: one site, a date range and the filters, in a stable order.

    ``now`` is naive UTC; ``span`` is the period itself and ``previous`` what it is
    compared with (None when comparison is off or impossible, as for all time).
    """

    site: str
    period: str
    start: date
    end: date
    filters: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    limit: int = 10
    format: str = "json"
    prop_event: str | None = None
    #: the Properties panel narrowed to one property name
    prop_key: str | None = None
    comparison: str = DEFAULT_COMPARISON
    now: datetime | None = None
    since: datetime | None = None
    #: the end of a range given to the second (the Stats API's datetimes), exclusive
    until: datetime | None = None
    previous: Span | None = None
    search: str | None = None
    order_by: str | None = None
    order: str = "desc"
    offset: int = 0
    graph_interval: str | None = None
    #: the site's IANA time zone, None for UTC. Then dates, ``now``, ``since`` and the
    #: spans are the site's local wall time (queries convert at the lake's edge)
    zone: str | None = None
    #: ``now`` is earlier than the clock: the data stands at that moment (the hosted
    #: function at ~50 M page views a month, today's last whole hour rolled up)
    as_of: bool = False

    @property
    def days(self) -> int:
        """Length of the range in days (a single day is 1)."""
        return (self.end - self.start).days + 1

    @property
    def span(self) -> Span:
        """The period as a ``Span`` (realtime is cut to its last minutes, up to now)."""
        if self.since is None:
            return Span(self.start, self.end)
        if self.until is not None:
            return Span(self.start, self.end, since=self.since, until=self.until)
        until = self.now + timedelta(minutes=1) if self.now else None
        return Span(self.start, self.end, since=self.since, until=until)

    @property
    def interval(self) -> str:
        """The graph's bucket: as asked, else following the period's length as
        Plausible does."""
        if self.graph_interval:
            return self.graph_interval
        if self.period == "realtime":
            return "minute"
        if self.days == 1:
            return "hour"
        if self.days <= 62:
            return "day"
        if self.days <= 190:
            return "week"
        return "month"

    @property
    def intervals(self) -> tuple[str, ...]:
        """The buckets the graph may use for this range (the page's interval picker)."""
        return intervals_for(self.period, self.days)

    def meta(self) -> dict[str, object]:
        """The resolved state, echoed in every response so the page shows real dates."""
        prev = self.previous
        return {
            "site": self.site,
            "period": self.period,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "comparison": self.comparison if prev else "off",
            "previous_from": prev.start.isoformat() if prev else None,
            "previous_to": prev.end.isoformat() if prev else None,
            "previous_since": _iso(prev.since) if prev else None,
            "previous_until": _iso(prev.until) if prev else None,
            "since": _iso(self.since),
            "now": _iso(self.now),
            "interval": self.interval,
            "intervals": list(self.intervals),
            "filters": dict(self.filters),
            "time_zone": self.zone or "UTC",
            # (only when set: the page then says "as of", not "updated N s ago")
            **({"as_of": True} if self.as_of else {}),
        }


def intervals_for(period: str, days: int) -> tuple[str, ...]:
    """Minutes for realtime, hours for one day; else days, weeks and months, each only
    while the range has at least two and at most ``MAX_BUCKETS`` of them."""
    if period == "realtime":
        return ("minute",)
    if days == 1:
        return ("hour",)
    sizes = {"day": 1, "week": 7, "month": 30}
    return tuple(i for i, n in sizes.items() if days / n <= MAX_BUCKETS and days >= 2 * n)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _minus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _month_start(day: date, back: int = 0) -> date:
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def previous_span(
    period: str, start: date, end: date, comparison: str, now: datetime
) -> Span | None:
    """What ``start``..``end`` is compared with; cut at ``now``'s time of day when the
    period ends today, so an unfinished day meets the same part of its counterpart."""
    if comparison == "off" or period == "all":
        return None
    if period == "realtime":
        until = now - timedelta(minutes=REALTIME_MINUTES - 1)
        since = until - timedelta(minutes=REALTIME_MINUTES)
        return Span(since.date(), until.date(), since, until)
    days = (end - start).days
    if comparison == "year_over_year" or period == "12mo":
        first, last = _minus_years(start, 1), _minus_years(end, 1)
    elif period in ("month", "last_month"):
        first = _month_start(start, 1)
        month_end = start - timedelta(days=1)
        last = month_end if period == "last_month" else min(first + timedelta(days), month_end)
    elif period == "year":
        first = date(start.year - 1, 1, 1)
        last = min(first + timedelta(days), date(start.year - 1, 12, 31))
    else:
        last = start - timedelta(days=1)
        first = last - timedelta(days)
    if first < MIN_DATE:
        return None
    # ending today (a pinned day's "now" is the next midnight: whole, not cut)
    until = datetime.combine(last, now.time()) if end == now.date() else None
    return Span(first, last, until=until)


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"give '{name}' once (got {len(values)} values)")
    return values[0]


def _date(value: str, name: str) -> date:
    if not _DATE.fullmatch(value):
        raise BadRequest(f"'{name}' must be a date as YYYY-MM-DD, got {shown(value)}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"'{name}' is not a real date: {shown(value)}") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise BadRequest(
            f"'{name}' must be a date from {MIN_DATE} to {MAX_DATE}, got {shown(value)}"
        )
    return day


def _moments(start: str, end: str, zone: str | None) -> tuple[datetime, datetime]:
    """``from``/``to`` given to the second (ISO, with or without an offset) as the
    range's first moment and the moment after its last (``to`` is inclusive to the
    second), on the site's clock: an offset is converted, a bare time is the site's."""
    moments = []
    for value, name in ((start, "from"), (end, "to")):
        if len(value) > 40:
            raise BadRequest(f"'{name}' is too long")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"'{name}' must be a date (YYYY-MM-DD) or a datetime "
                f"(YYYY-MM-DDTHH:MM:SS[Z|±HH:MM]), got {shown(value)}"
            ) from None
        if moment.tzinfo is not None:
            local = ZoneInfo(zone) if zone else UTC
            moment = moment.astimezone(local).replace(tzinfo=None)
        if not MIN_DATE <= moment.date() <= MAX_DATE:
            raise BadRequest(f"'{name}' must be from {MIN_DATE} to {MAX_DATE}")
        moments.append(moment)
    first, last = moments[0], moments[1] + timedelta(seconds=1)
    if first >= last:
        raise BadRequest(f"'from' ({start}) is after 'to' ({end}); swap them")
    return first, last


def parse_limit(value: str) -> int:
    number = int(value) if _NUMBER.fullmatch(value) else 0
    if not 1 <= number <= MAX_LIMIT:
        raise BadRequest(
            f"'limit' must be a whole number from 1 to {MAX_LIMIT}, got {shown(value)}"
        )
    return number


def _filter_value(name: str, raw: str) -> str:
    """``raw`` checked as a filter's value (its clause must make sense), unchanged."""
    parsed = clause(raw)
    if len(parsed.values) > MAX_FILTER_VALUES:
        raise BadRequest(f"filter {shown(name)}: at most {MAX_FILTER_VALUES} values")
    if any(v == "" for v in parsed.values):
        raise BadRequest(
            f"filter {shown(name)} has an empty value; use {NONE_VALUE!r} for no value"
        )
    if spec_of(name).kind == "event" and parsed.negated:
        # Plausible's goals: a conversion is something a visit did, never a "not"
        raise BadRequest(f"filter {shown(name)}: a goal filter is 'is' or 'contains' only")
    return raw


def _text(value: str, name: str) -> str:
    if "\x00" in value:
        raise BadRequest(f"'{name}' must not contain NUL characters")
    if len(value) > MAX_VALUE_LENGTH:
        raise BadRequest(f"'{name}' is longer than {MAX_VALUE_LENGTH} characters")
    return value


def _range(
    period: str, start: str | None, end: str | None, today: date, first_day: date | None
) -> tuple[date, date]:
    if period == "custom":
        if start is None or end is None:
            raise BadRequest("period=custom needs both 'from' and 'to' (YYYY-MM-DD)")
        first, last = _date(start, "from"), _date(end, "to")
        if first > last:
            raise BadRequest(f"'from' ({first}) is after 'to' ({last}); swap them")
        if first > today:
            raise BadRequest(f"'from' ({first}) is in the future (today is {today}): no data yet")
        # a range reaching past today is counted up to today, as a period would be
        last = min(last, today)
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise BadRequest(f"a range may span at most {MAX_RANGE_DAYS} days")
        return first, last
    if start is not None or end is not None:
        raise BadRequest("'from'/'to' only go with period=custom")
    if period == "today":
        return today, today
    if period == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if period == "month":
        return today.replace(day=1), today
    if period == "last_month":
        first = _month_start(today, 1)
        return first, today.replace(day=1) - timedelta(days=1)
    if period == "year":
        return date(today.year, 1, 1), today
    if period == "12mo":
        return _month_start(today, 11), today
    if period == "all":
        first = min(first_day or today, today)
        return max(first, today - timedelta(days=MAX_RANGE_DAYS - 1)), today
    days = int(period.removesuffix("d"))
    return today - timedelta(days=days - 1), today


def parse(
    items: Iterable[tuple[str, str]],
    *,
    sites: Callable[[str], bool],
    today: date | None = None,
    extra: tuple[str, ...] = (),
    now: datetime | None = None,
    first_day: date | None = None,
    columns: tuple[str, ...] = (),
    zone: str | None = None,
) -> Params:
    """Validate a request's query string into ``Params`` or raise ``BadRequest``.

    ``sites(name)`` says whether a site exists (asked only once the name is well
    formed); ``extra`` lists further endpoint-specific parameters that are allowed;
    ``now`` (naive UTC) defaults to the end of ``today`` (a whole day); ``first_day``
    is the site's first day with data (period=all); ``columns`` are the ones a list
    may be sorted by (breakdowns only). ``zone``: the site's time zone (see
    ``time_zone``); ``today`` and ``now`` are then read on its clock.
    """
    query: dict[str, list[str]] = {}
    for key, value in items:
        query.setdefault(key, []).append(value)
    unknown = sorted(
        k for k in query
        if k not in _CONTROL and k not in FILTERS and k != WHERE and not k.startswith(PROP_PREFIX)
    )  # fmt: skip
    if unknown:
        raise BadRequest(
            f"unknown parameter(s) {', '.join(shown(k) for k in unknown[:5])}"
            f"{' …' if len(unknown) > 5 else ''}; "
            f"filters allowed: {', '.join(FILTERS)}"
        )
    site = _one(query, "site")
    if not site:
        raise BadRequest("'site' is required (a domain name from /api/sites)")
    site = _text(site, "site")
    if not sites(site):
        raise BadRequest(f"unknown site {shown(site)}; /api/sites lists the sites with data")

    start, end = _one(query, "from"), _one(query, "to")
    period = _one(query, "period") or ("custom" if start or end else DEFAULT_PERIOD)
    if period not in PERIODS:
        raise BadRequest(f"'period' must be one of {', '.join(PERIODS)}, got {shown(period)}")
    if now is None:  # a pinned day (tests) counts as whole: "now" is its end
        today = today or utc_today()
        now = datetime.combine(today + timedelta(days=1), time(0))
    else:
        if zone is not None:  # the site's wall clock
            now = to_local(now, zone)
        # to the minute: the SQL of "until now" then stays the same for a minute, so
        # its translation and the Athena answer cache are reused by every refresh
        now = now.replace(second=0, microsecond=0)
        today = now.date()
    since = until = None
    if period == "realtime":
        if start is not None or end is not None:
            raise BadRequest("'from'/'to' only go with period=custom")
        # the running minute and the 29 before it
        since = now - timedelta(minutes=REALTIME_MINUTES - 1)
        first, last = since.date(), today
    elif period == "custom" and start is not None and end is not None and "T" in start + end:
        since, until = _moments(start, end, zone)
        first, last = _range(period, since.date().isoformat(),
                             (until - timedelta(microseconds=1)).date().isoformat(),
                             today, first_day)  # fmt: skip
    else:
        first, last = _range(period, start, end, today, first_day)
    comparison = _one(query, "comparison") or DEFAULT_COMPARISON
    if comparison not in COMPARISONS:
        raise BadRequest(
            f"'comparison' must be one of {', '.join(COMPARISONS)}, got {shown(comparison)}"
        )
    previous = None if until else previous_span(period, first, last, comparison, now)

    filters = []
    props = sorted(k for k in query if k.startswith(PROP_PREFIX))
    if len(props) > MAX_PROP_FILTERS:
        raise BadRequest(f"at most {MAX_PROP_FILTERS} property filters")
    for name in props:
        if not _PROP_KEY.fullmatch(name[len(PROP_PREFIX) :]):
            raise BadRequest(f"{shown(name)}: a property name of 1-100 printable characters")
    # allow-list order, then properties by name: the same filters always give the same SQL
    for name in (*FILTERS, *props):
        value = _one(query, name)
        if value is not None:
            if value == "":
                raise BadRequest(f"filter '{name}' is empty; use {NONE_VALUE!r} for no value")
            filters.append((name, _filter_value(name, _text(value, name))))
    where = _one(query, WHERE)
    if where is not None:
        from ownstats.dashboard import filter_tree  # it builds on this module

        filter_tree.parse(_text(where, WHERE))  # checked here; compiled by queries
        filters.append((WHERE, where))

    limit_text = _one(query, "limit")
    limit = 10 if limit_text is None else parse_limit(limit_text)
    fmt = _one(query, "format") or "json"
    if fmt not in ("json", "csv"):
        raise BadRequest(f"'format' must be json or csv, got {shown(fmt)}")
    prop_event = _one(query, "prop_event")
    if prop_event is not None and "prop_event" not in extra:
        raise BadRequest("'prop_event' only applies to /api/breakdown/event-props")
    prop_key = _one(query, "prop_key")
    if prop_key is not None and "prop_key" not in extra:
        raise BadRequest("'prop_key' only applies to /api/breakdown/props")
    if prop_key is not None and not _PROP_KEY.fullmatch(prop_key):
        raise BadRequest("'prop_key': a property name of 1-100 printable characters")
    search = _one(query, "search")
    order_by = _one(query, "order_by")
    order = _one(query, "order") or "desc"
    offset_text = _one(query, "offset")
    if (search or order_by or offset_text) and not columns:
        raise BadRequest("'search', 'order_by' and 'offset' only apply to /api/breakdown/…")
    if order_by is not None and order_by not in columns:
        raise BadRequest(f"'order_by' must be one of {', '.join(columns)}, got {shown(order_by)}")
    if order not in ORDERS:
        raise BadRequest(f"'order' must be asc or desc, got {shown(order)}")
    graph_interval = _one(query, "interval")
    if graph_interval is not None:
        allowed = intervals_for(period, (last - first).days + 1)
        if graph_interval not in allowed:
            raise BadRequest(
                f"'interval' for this range must be one of {', '.join(allowed)}, "
                f"got {shown(graph_interval)}"
            )
    offset = 0
    if offset_text is not None:
        offset = int(offset_text) if _NUMBER.fullmatch(offset_text) else -1
        if not 0 <= offset <= MAX_OFFSET:
            raise BadRequest(
                f"'offset' must be a whole number from 0 to {MAX_OFFSET}, got {shown(offset_text)}"
            )
    return Params(
        site=site,
        period=period,
        start=first,
        end=last,
        filters=tuple(filters),
        limit=limit,
        format=fmt,
        prop_event=_text(prop_event, "prop_event") if prop_event is not None else None,
        prop_key=prop_key,
        comparison=comparison,
        now=now,
        since=since,
        until=until,
        previous=previous,
        search=_text(search, "search") if search else None,
        order_by=order_by,
        order=order,
        offset=offset,
        graph_interval=graph_interval,
        zone=zone,
    )

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
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "FILTERS",
    "NONE_VALUE",
    "PERIODS",
    "BadRequest",
    "Filter",
    "Params",
    "parse",
    "shown",
    "sql_string",
    "utc_today",
]

PERIODS = ("today", "yesterday", "7d", "30d", "custom")
DEFAULT_PERIOD = "30d"
#: the longest custom range a request may ask for (ten years of days)
MAX_RANGE_DAYS = 3660
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
    visit sent this custom event".
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
        Filter("country", "Country", "session", "country_code"),
        Filter("device", "Device", "session", "device_type"),
        Filter("browser", "Browser", "session", "browser_name"),
        Filter("os", "OS", "session", "os_name"),
        Filter("event", "Event", "event"),
    )
}

#: parameters that are not filters; anything else in a request is an error
_CONTROL = ("site", "period", "from", "to", "limit", "format", "prop_event")


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
class Params:
    """A validated request: one site, a date range and the filters, in a stable order."""

    site: str
    period: str
    start: date
    end: date
    filters: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    limit: int = 10
    format: str = "json"
    prop_event: str | None = None

    @property
    def days(self) -> int:
        """Length of the range in days (a single day is 1)."""
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        """The period of equal length that ends the day before ``start``."""
        prev_end = self.start - timedelta(days=1)
        return prev_end - timedelta(days=self.days - 1), prev_end

    def meta(self) -> dict[str, object]:
        """The resolved state, echoed in every response so the page shows real dates."""
        prev_start, prev_end = self.previous
        return {
            "site": self.site,
            "period": self.period,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "previous_from": prev_start.isoformat(),
            "previous_to": prev_end.isoformat(),
            "filters": dict(self.filters),
        }


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


def _limit(value: str) -> int:
    number = int(value) if _NUMBER.fullmatch(value) else 0
    if not 1 <= number <= MAX_LIMIT:
        raise BadRequest(
            f"'limit' must be a whole number from 1 to {MAX_LIMIT}, got {shown(value)}"
        )
    return number


def _text(value: str, name: str) -> str:
    if "\x00" in value:
        raise BadRequest(f"'{name}' must not contain NUL characters")
    if len(value) > MAX_VALUE_LENGTH:
        raise BadRequest(f"'{name}' is longer than {MAX_VALUE_LENGTH} characters")
    return value


def _range(period: str, start: str | None, end: str | None, today: date) -> tuple[date, date]:
    if period == "custom":
        if start is None or end is None:
            raise BadRequest("period=custom needs both 'from' and 'to' (YYYY-MM-DD)")
        first, last = _date(start, "from"), _date(end, "to")
        if first > last:
            raise BadRequest(f"'from' ({first}) is after 'to' ({last}); swap them")
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
    days = int(period.removesuffix("d"))
    return today - timedelta(days=days - 1), today


def parse(
    items: Iterable[tuple[str, str]],
    *,
    sites: Callable[[str], bool],
    today: date | None = None,
    extra: tuple[str, ...] = (),
) -> Params:
    """Validate a request's query string into ``Params`` or raise ``BadRequest``.

    ``sites(name)`` says whether a site exists (asked only once the name is well
    formed); ``extra`` lists further endpoint-specific parameters that are allowed.
    """
    query: dict[str, list[str]] = {}
    for key, value in items:
        query.setdefault(key, []).append(value)
    unknown = sorted(k for k in query if k not in _CONTROL and k not in FILTERS)
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
    first, last = _range(period, start, end, today or utc_today())

    filters = []
    for name in FILTERS:  # allow-list order: the same filters always give the same SQL
        value = _one(query, name)
        if value is not None:
            if value == "":
                raise BadRequest(f"filter '{name}' is empty; use {NONE_VALUE!r} for no value")
            filters.append((name, _text(value, name)))

    limit_text = _one(query, "limit")
    limit = 10 if limit_text is None else _limit(limit_text)
    fmt = _one(query, "format") or "json"
    if fmt not in ("json", "csv"):
        raise BadRequest(f"'format' must be json or csv, got {shown(fmt)}")
    prop_event = _one(query, "prop_event")
    if prop_event is not None and "prop_event" not in extra:
        raise BadRequest("'prop_event' only applies to /api/breakdown/event-props")
    return Params(
        site=site,
        period=period,
        start=first,
        end=last,
        filters=tuple(filters),
        limit=limit,
        format=fmt,
        prop_event=_text(prop_event, "prop_event") if prop_event is not None else None,
    )

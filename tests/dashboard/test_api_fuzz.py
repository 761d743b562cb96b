"""The dashboard API never answers 5xx for what a request carries: fuzzed query strings.

Bad input is the client's to fix (400 with a reason); a 5xx ("the query backend
failed") must only ever mean the backend itself is in trouble.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from dashboard_support import DOMAINS, FIRST_DAY, LAST_DAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from ownstats.dashboard.params import FILTERS
from ownstats.dashboard.queries import BREAKDOWNS

ENDPOINTS = (
    "/api/sites",
    "/api/current-visitors",
    "/api/summary",
    "/api/timeseries",
    *(f"/api/breakdown/{slug}" for slug in BREAKDOWNS),
    "/api/breakdown/no-such-panel",
)
#: one endpoint of each kind (the site alone, the cards, the graph, a table, props)
SOME_ENDPOINTS = (
    "/api/current-visitors",
    "/api/summary",
    "/api/timeseries",
    "/api/breakdown/pages",
    "/api/breakdown/event-props",
)
#: one filter of each kind: a visit's attribute, a page it viewed, an event it sent
SOME_FILTERS = ("source", "page", "event")
NAMES = ("site", "period", "from", "to", "limit", "format", "prop_event", *FILTERS, "junk")
#: the comparison and the details list's parameters (fuzzed with fewer values)
LIST_NAMES = ("comparison", "interval", "search", "order_by", "order", "offset")
#: values that have tripped parsers: Unicode digits, far-out dates, huge numbers, …
TRICKY = (
    "",
    " ",
    "²",
    "١٠",
    "𝟙",
    "①",
    "٢٠٢٦-٠٣-٠١",
    "0001-01-01",
    "0001-01-02",
    "9999-12-31",
    "9999-12-30",
    "1" * 5000,
    "-1",
    "+5",
    " 5",
    "5 ",
    "1e3",
    "0x10",
    "1_000",
    "1000",
    "1001",
    "0",
    "custom",
    "today",
    "yesterday",
    "7d",
    "30d",
    "realtime",
    "all",
    "12mo",
    "year_over_year",
    "page_path",
    "asc",
    "csv",
    "json",
    "(none)",
    "x\\",
    "\\",
    "x'",
    "'",
    "''",
    "\\'",
    '"',
    "%",
    "_",
    "$1",
    "?",
    ":x",
    "{fn x}",
    "--",
    "/*",
    "*/",
    "\x01\x1b[2J",
    "\u202e",
    "\ufeff",
    "中文.a.test",
    "x" * 2001,
    FIRST_DAY.isoformat(),
    LAST_DAY.isoformat(),
    *DOMAINS,
)
#: dates at and beyond the ends of what ``datetime.date`` can hold or a lake can have
DATES = (
    "0001-01-01",
    "0001-01-02",
    "1969-12-31",
    "1970-01-01",
    "1999-12-31",
    "2000-01-01",
    FIRST_DAY.isoformat(),
    "2999-12-31",
    "3000-01-01",
    "9999-12-30",
    "9999-12-31",
)
# lone surrogates cannot travel in a URL (they are not UTF-8)
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_VALUE = st.one_of(st.sampled_from(TRICKY + DATES), _TEXT)
_NAME = st.one_of(st.sampled_from(NAMES + LIST_NAMES), _TEXT)


def _assert_not_5xx(client: TestClient, path: str, params: list[tuple[str, str]]) -> None:
    response = client.get(path, params=params)
    assert response.status_code < 500, (path, params, response.text)
    if response.status_code >= 400:
        assert response.json()["error"]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(ENDPOINTS),
    base=st.booleans(),
    extra=st.lists(st.tuples(_NAME, _VALUE), max_size=5),
)
def test_fuzzed_query_strings_never_get_a_5xx(
    client: TestClient, path: str, base: bool, extra: list[tuple[str, str]]
) -> None:
    # half the time start from a valid request, so the fuzz reaches past the first check
    params = [("site", DOMAINS[0])] if base else []
    names = {name for name, _ in extra}
    if base and not names & {"from", "to", "period"}:
        params += [("from", FIRST_DAY.isoformat()), ("to", LAST_DAY.isoformat())]
    _assert_not_5xx(client, path, params + extra)


def _requests(name: str, value: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``name=value`` on top of a valid request, to each kind of endpoint (a filter's
    value only to the cards: every filtered query embeds it the same way)."""
    found = []
    for path in ("/api/summary",) if name in FILTERS else SOME_ENDPOINTS:
        params: dict[str, str] = {"site": DOMAINS[0], "period": "custom"}
        params |= {"from": (LAST_DAY - timedelta(days=1)).isoformat(), "to": LAST_DAY.isoformat()}
        if path.endswith("event-props"):
            params["prop_event"] = "Signup"
        params[name] = value
        found.append((path, list(params.items())))
        if "/breakdown/" in path and name != "format":
            found.append((path, [*params.items(), ("format", "csv")]))
    return found


@pytest.mark.parametrize("name", [n for n in NAMES if n not in FILTERS or n in SOME_FILTERS])
@pytest.mark.parametrize("value", TRICKY)
def test_each_tricky_value_in_each_parameter_is_not_a_5xx(
    client: TestClient, name: str, value: str
) -> None:
    for path, params in _requests(name, value):
        _assert_not_5xx(client, path, params)


@pytest.mark.parametrize("name", LIST_NAMES)
@pytest.mark.parametrize("value", TRICKY[::2])
def test_tricky_comparison_and_list_parameters_are_not_a_5xx(
    client: TestClient, name: str, value: str
) -> None:
    for path, params in _requests(name, value):
        _assert_not_5xx(client, path, params)


@pytest.mark.parametrize("start", DATES)
@pytest.mark.parametrize("end", DATES)
def test_far_out_date_ranges_are_not_a_5xx(client: TestClient, start: str, end: str) -> None:
    for path in SOME_ENDPOINTS[1:]:
        params = {"site": DOMAINS[0], "from": start, "to": end, "prop_event": "Signup"}
        if not path.endswith("event-props"):
            del params["prop_event"]
        _assert_not_5xx(client, path, list(params.items()))

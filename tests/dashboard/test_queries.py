"""The SQL the dashboard writes: views read directly or their own SQL narrowed, values
always escaped literals, columns only from the allow-list, valid Athena (Trino) SQL."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot

from athena_views import view_references
from ownstats.dashboard.params import FILTERS, BadRequest, Params, parse, sql_string
from ownstats.dashboard.queries import BREAKDOWNS, breakdown_sql, summary_sql, timeseries_sql

TODAY = date(2026, 3, 14)
ALL_FILTERS = [(name, f"v{i}'s.x") for i, name in enumerate(FILTERS)]


def params(*filters: tuple[str, str], **extra: str) -> Params:
    items = [("site", "example.com"), ("period", "7d"), *filters, *extra.items()]
    return parse(items, sites=lambda s: s == "example.com", today=TODAY, extra=("prop_event",))


def every_query(p: Params) -> list[str]:
    return [summary_sql(p), timeseries_sql(p, p.span)[0]] + [
        breakdown_sql(b, p, 10) for b in BREAKDOWNS.values()
    ]


def test_sql_string_doubles_quotes() -> None:
    assert sql_string("it's") == "'it''s'"
    assert sql_string("a\\'b") == "'a\\''b'"


def test_unfiltered_panels_read_their_view() -> None:
    p = params()
    for panel in BREAKDOWNS.values():
        # goals divide by every visitor of the period: daily_stats, unfiltered
        rate = {"daily_stats"} if panel.conversion else set()
        assert view_references(breakdown_sql(panel, p, 10)) == {panel.view} | rate
    assert view_references(summary_sql(p)) == {"daily_stats"}


def test_filtered_panels_run_the_views_own_sql_on_narrowed_inputs() -> None:
    """Every view but the roots is expanded inline: the metric SQL is the view file's."""
    p = params(*ALL_FILTERS, prop_event="Signup")
    for sql in every_query(p):
        # daily_stats unfiltered: the conversion rate's denominator (every visitor)
        assert view_references(sql) <= {"sessions", "events_deduped", "daily_stats"}
        sqlglot.parse_one(sql, read="trino")  # valid Athena (Trino) SQL
    assert "bounces" in summary_sql(p)  # daily_stats.sql itself, expanded
    pages = breakdown_sql(BREAKDOWNS["pages"], p, 10)
    assert "avg_time_on_page_s" in pages or "engagement_ms" in pages  # top_pages.sql, expanded
    assert "copy_no" not in pages  # the dedupe is the (materialised) events_deduped root


def test_filter_values_stay_intact_and_escaped() -> None:
    p = params(("page", "/a's.b"), ("source", "news.ycombinator.com"))
    sql = summary_sql(p)
    # the session filter applies to the visits and to the page join's visits, found
    # once for the period and the adjacent previous one: for the visit figures
    # (daily_stats) and for the page's own page views (top_pages)
    assert sql.count("'news.ycombinator.com'") == 4
    visits_only = summary_sql(params(("source", "news.ycombinator.com")))
    assert visits_only.count("'news.ycombinator.com'") == 1
    assert "'/a''s.b'" in sql
    assert "newv." not in sql


def test_none_value_is_is_null() -> None:
    sql = summary_sql(params(("country", "(none)")))
    assert "s.country_code IS NULL" in sql


def test_unknown_filter_columns_are_rejected() -> None:
    with pytest.raises(BadRequest, match="unknown parameter"):
        params(("country_code; DROP TABLE x", "1"))

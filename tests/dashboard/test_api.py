"""The dashboard API over a generated lake: every endpoint, filters, CSV, validation.

Expected numbers are read from the views themselves (and, for filters, from the
``sessions`` / ``page_views`` rows), so these tests pin "the dashboard shows what the
views say" rather than a second copy of the metric definitions.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import DOMAINS, FIRST_DAY, HOSTILE, LAST_DAY, Lake, q
from starlette.testclient import TestClient

from ownstats.dashboard import build_app
from ownstats.dashboard.queries import BREAKDOWNS
from ownstats.engine import Engine

SITE = DOMAINS[0]
RANGE = f"event_date BETWEEN '{FIRST_DAY}' AND '{LAST_DAY}' AND domain_name = '{SITE}'"


def scalar(engine: Engine, sql: str) -> Any:
    return engine.query(sql).rows[0][0]


def ok(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=q(**params))
    assert response.status_code == 200, response.text
    return response.json()


# -- sites, page, static -----------------------------------------------------------------


def test_sites_lists_domains_and_filter_labels(client: TestClient) -> None:
    body = client.get("/api/sites").json()
    assert body["sites"] == list(DOMAINS)  # busiest first: the main site has 3/4 of visits
    assert body["filters"]["source"] == "Source"
    assert "visitor_id" not in body["filters"]


def test_the_owners_sites_come_first_whatever_else_the_lake_holds(engine: Engine) -> None:
    """A stranger's busier name (from before subdomains counted under their site, or a
    lake without an allow-list) never opens the dashboard when the owner named sites."""
    from ownstats.dashboard import build_app

    app = build_app(engine, today=lambda: LAST_DAY, configured=["blog.example.org"])
    with TestClient(app) as owner:
        assert owner.get("/api/sites").json()["sites"] == ["blog.example.org", "example.com"]


def test_index_and_static_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/_dash/app.js" in page.text and "/_dash/app.css" in page.text
    assert "http" not in page.text.replace("http://www.w3.org", "")  # no CDN
    for asset, kind in (("app.js", "javascript"), ("app.css", "css")):
        response = client.get(f"/_dash/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]


# -- summary and graph -------------------------------------------------------------------


def test_summary_equals_daily_stats(client: TestClient, engine: Engine) -> None:
    body = ok(client, "/api/summary")
    m = body["metrics"]
    row = engine.query(
        "SELECT sum(visitors), sum(visits), sum(pageviews), sum(bounces), "
        f"sum(total_visit_duration_s) FROM daily_stats WHERE {RANGE}"
    ).rows[0]
    visitors, visits, pageviews, bounces, duration = row
    assert visitors > 100
    assert m["visitors"]["value"] == visitors
    assert m["visits"]["value"] == visits
    assert m["pageviews"]["value"] == pageviews
    assert m["bounce_rate"]["value"] == pytest.approx(bounces / visits)
    assert m["visit_duration_s"]["value"] == pytest.approx(duration / visits)
    assert m["views_per_visit"]["value"] == pytest.approx(pageviews / visits)
    # the 14 days before the lake's first day are empty: nothing to compare with
    assert m["visitors"]["previous"] == 0 and m["visitors"]["change"] is None
    assert body["meta"]["previous_to"] == "2026-02-28"


def test_summary_compares_with_previous_period_of_equal_length(
    client: TestClient, engine: Engine
) -> None:
    body = ok(client, "/api/summary", period="7d", **{"from": None, "to": None})
    assert body["meta"]["from"] == "2026-03-08" and body["meta"]["to"] == "2026-03-14"
    assert body["meta"]["previous_from"] == "2026-03-01"
    assert body["meta"]["previous_to"] == "2026-03-07"

    def visitors(start: str, end: str) -> int:
        return scalar(
            engine,
            f"SELECT sum(visitors) FROM daily_stats WHERE event_date BETWEEN '{start}' "
            f"AND '{end}' AND domain_name = '{SITE}'",
        )

    current, previous = visitors("2026-03-08", "2026-03-14"), visitors("2026-03-01", "2026-03-07")
    m = body["metrics"]["visitors"]
    assert (m["value"], m["previous"]) == (current, previous)
    assert m["change"] == round((current - previous) / previous * 100, 1)


def test_timeseries_by_day_equals_daily_stats(client: TestClient, engine: Engine) -> None:
    body = ok(client, "/api/timeseries")
    assert body["interval"] == "day"
    assert [p["bucket"] for p in body["points"]][:2] == ["2026-03-01", "2026-03-02"]
    assert len(body["points"]) == 14
    rows = engine.query(
        f"SELECT event_date, visitors, pageviews FROM daily_stats WHERE {RANGE}"
    ).rows
    expected = {d: (v, p) for d, v, p in rows}
    for point in body["points"]:
        assert (point["visitors"], point["pageviews"]) == expected.get(point["bucket"], (0, 0))
    summary = ok(client, "/api/summary")
    assert sum(p["visitors"] for p in body["points"]) == summary["metrics"]["visitors"]["value"]


def test_timeseries_of_one_day_is_hourly(client: TestClient, engine: Engine) -> None:
    day = "2026-03-10"
    body = ok(client, "/api/timeseries", **{"from": day, "to": day})
    assert body["interval"] == "hour"
    assert [p["bucket"] for p in body["points"]] == list(range(24))
    rows = engine.query(
        "SELECT event_hour, visitors, pageviews FROM hourly_stats "
        f"WHERE event_date = '{day}' AND domain_name = '{SITE}'"
    ).rows
    assert rows
    for hour, visitors, pageviews in rows:
        point = body["points"][hour]
        assert (point["visitors"], point["pageviews"]) == (visitors, pageviews)


# -- breakdowns --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", [s for s in BREAKDOWNS if s != "event-props"])
def test_every_breakdown_equals_its_view(client: TestClient, engine: Engine, slug: str) -> None:
    panel = BREAKDOWNS[slug]
    body = ok(client, f"/api/breakdown/{slug}", limit=1000)
    dims = [*panel.extra_dimensions, panel.dimension]
    assert body["columns"][: len(dims)] == dims
    first, second = panel.metrics[0][0], panel.metrics[1][0]
    rows = engine.query(
        f"SELECT {', '.join(dims)}, sum({first}), sum({second}) FROM {panel.view} "
        f"WHERE {RANGE} GROUP BY {', '.join(dims)}"
    ).rows
    expected = {tuple(row[:-2]): tuple(row[-2:]) for row in rows}
    got = {tuple(r[d] for d in dims): (r[first], r[second]) for r in body["rows"]}
    assert got == expected and got
    values = [r[first] for r in body["rows"]]
    assert values == sorted(values, reverse=True)


def test_breakdown_limit_and_ratios(client: TestClient, engine: Engine) -> None:
    body = ok(client, "/api/breakdown/sources", limit=3)
    assert len(body["rows"]) == 3
    top = body["rows"][0]
    rows = engine.query(
        f"SELECT visits, bounce_rate FROM sources WHERE {RANGE} AND source = '{top['source']}'"
    ).rows
    bounces = sum(v * r for v, r in rows)
    assert top["bounce_rate"] == pytest.approx(bounces / sum(v for v, _ in rows))
    exits = ok(client, "/api/breakdown/exit-pages")["rows"][0]
    views = scalar(
        engine,
        f"SELECT sum(pageviews) FROM top_pages WHERE {RANGE} AND page_path = "
        f"'{exits['page_path']}'",
    )
    assert exits["exit_rate"] == pytest.approx(exits["exits"] / views)


def test_event_props_breakdown(client: TestClient, engine: Engine) -> None:
    event = ok(client, "/api/breakdown/custom-events")["rows"][0]["event_name"]
    body = ok(client, "/api/breakdown/event-props", prop_event=event, limit=1000)
    rows = engine.query(
        "SELECT prop_key, prop_value, sum(visitors), sum(events) FROM custom_event_props "
        f"WHERE {RANGE} AND event_name = '{event}' GROUP BY prop_key, prop_value"
    ).rows
    assert {(r["prop_key"], r["prop_value"], r["visitors"], r["events"]) for r in body["rows"]} == (
        set(rows)
    )
    missing = client.get("/api/breakdown/event-props", params=q())
    assert missing.status_code == 400 and "prop_event" in missing.json()["error"]


# -- filters -----------------------------------------------------------------------------


def _per_day_visitors(engine: Engine, where: str) -> tuple[int, int, int]:
    """(visitors summed over days, visits, pageviews) of the sessions matching ``where``."""
    return engine.query(
        "SELECT sum(v), sum(n), sum(p) FROM (SELECT event_date, count(DISTINCT visitor_id) AS v,"
        f" count(*) AS n, sum(pageviews) AS p FROM sessions AS s WHERE {RANGE} AND {where} "
        "GROUP BY event_date)"
    ).rows[0]


@pytest.mark.parametrize(
    ("param", "column", "panel"),
    [
        ("source", "source", "sources"),
        ("channel", "channel", "channels"),
        ("country", "country_code", "countries"),
        ("device", "device_type", "devices"),
        ("browser", "browser_name", "browsers"),
        ("os", "os_name", "operating-systems"),
        ("entry_page", "entry_page", "entry-pages"),
    ],
)
def test_session_filter_narrows_every_number(
    client: TestClient, engine: Engine, param: str, column: str, panel: str
) -> None:
    unfiltered = ok(client, f"/api/breakdown/{panel}")["rows"]
    dimension = BREAKDOWNS[panel].dimension
    value = unfiltered[1][dimension]  # not the biggest, so the filter visibly narrows
    summary = ok(client, "/api/summary", **{param: value})["metrics"]
    visitors, visits, pageviews = _per_day_visitors(
        engine, f"s.{column} = '{value.replace(chr(39), chr(39) * 2)}'"
    )
    assert summary["visitors"]["value"] == visitors
    assert summary["visits"]["value"] == visits
    assert summary["pageviews"]["value"] == pageviews
    # the panel of the filtered dimension now holds exactly the clicked row
    rows = ok(client, f"/api/breakdown/{panel}", **{param: value})["rows"]
    assert len(rows) == 1
    assert rows[0] == {  # parallel float sums may differ in the last digit
        k: pytest.approx(v) if isinstance(v, float) else v for k, v in unfiltered[1].items()
    }
    # and the other panels add up to the filtered visits
    devices = ok(client, "/api/breakdown/devices", **{param: value})["rows"]
    assert sum(r["visits"] for r in devices) == visits


def test_page_filter_means_visits_that_viewed_the_page(client: TestClient, engine: Engine) -> None:
    page = ok(client, "/api/breakdown/pages")["rows"][2]["page_path"]
    summary = ok(client, "/api/summary", page=page)["metrics"]
    visitors, visits, _ = _per_day_visitors(
        engine,
        "EXISTS (SELECT 1 FROM page_views AS p WHERE p.event_date = s.event_date "
        "AND p.domain_name = s.domain_name AND p.visitor_id = s.visitor_id "
        f"AND p.event_time BETWEEN s.session_start AND s.session_end AND p.page_path = '{page}')",
    )
    assert 0 < visits < ok(client, "/api/summary")["metrics"]["visits"]["value"]
    assert (summary["visitors"]["value"], summary["visits"]["value"]) == (visitors, visits)
    pages = ok(client, "/api/breakdown/pages", page=page, limit=1000)["rows"]
    assert next(r for r in pages if r["page_path"] == page)["visitors"] > 0
    series = ok(client, "/api/timeseries", page=page)["points"]
    assert sum(p["visitors"] for p in series) == visitors


def test_filtered_event_panels_count_each_stored_duplicate_once(
    client: TestClient, engine: Engine
) -> None:
    """Top pages under a filter run events_deduped.sql on the visits' raw events: the
    lake holds at-least-once copies, and they must not count twice."""
    raw, deduped = engine.query(
        "SELECT (SELECT count(*) FROM events WHERE event_date = '2026-03-06'), "
        "(SELECT count(*) FROM events_deduped WHERE event_date = '2026-03-06')"
    ).rows[0]
    assert raw > deduped  # the fixture stored copies
    rows = ok(client, "/api/breakdown/pages", device="desktop", limit=1000)["rows"]
    expected = engine.query(
        "SELECT p.page_path, count(*) FROM page_views AS p JOIN sessions AS s "
        "ON s.event_date = p.event_date AND s.domain_name = p.domain_name "
        "AND s.visitor_id = p.visitor_id AND p.event_time BETWEEN s.session_start "
        f"AND s.session_end WHERE s.device_type = 'desktop' AND s.domain_name = '{SITE}' "
        f"AND s.event_date BETWEEN '{FIRST_DAY}' AND '{LAST_DAY}' GROUP BY p.page_path"
    ).rows
    assert {r["page_path"]: r["pageviews"] for r in rows} == dict(expected)


def test_event_filter_and_combined_filters(client: TestClient, engine: Engine) -> None:
    event = ok(client, "/api/breakdown/custom-events")["rows"][0]["event_name"]
    summary = ok(client, "/api/summary", event=event, device="desktop")["metrics"]
    _, visits, _ = _per_day_visitors(
        engine,
        "s.device_type = 'desktop' AND EXISTS (SELECT 1 FROM events_deduped AS e "
        "WHERE e.event_date = s.event_date AND e.domain_name = s.domain_name "
        "AND e.visitor_id = s.visitor_id AND e.event_type = 'event' "
        f"AND e.event_name = '{event}' AND e.event_time BETWEEN s.session_start "
        "AND s.session_end)",
    )
    assert summary["visits"]["value"] == visits > 0
    assert summary["bounce_rate"]["value"] == 0  # a visit with a custom event never bounces
    goals = ok(client, "/api/breakdown/custom-events", event=event, device="desktop")["rows"]
    assert any(r["event_name"] == event for r in goals)


def test_none_value_filters_missing_values(client: TestClient, engine: Engine) -> None:
    body = ok(client, "/api/summary", campaign="(none)")
    _, visits, _ = _per_day_visitors(engine, "s.utm_campaign IS NULL")
    assert body["metrics"]["visits"]["value"] == visits > 0
    assert body["meta"]["filters"] == {"campaign": "(none)"}


def test_filter_values_are_escaped_not_interpolated(client: TestClient) -> None:
    for value in ("Goo'gle", "x' OR '1'='1", "'; DROP TABLE sessions; --", "back\\slash"):
        body = ok(client, "/api/summary", source=value)
        assert body["metrics"]["visits"]["value"] == 0
        assert body["meta"]["filters"] == {"source": value}
    assert ok(client, "/api/summary")["metrics"]["visits"]["value"] > 0


# -- CSV ---------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["pages", "sources", "countries", "custom-events"])
def test_csv_export_has_every_row(client: TestClient, slug: str) -> None:
    response = client.get(f"/api/breakdown/{slug}", params=q(format="csv"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert f'filename="{SITE}_{slug}_{FIRST_DAY}_{LAST_DAY}.csv"' in disposition
    rows = list(csv.reader(io.StringIO(response.text)))
    full = ok(client, f"/api/breakdown/{slug}", limit=1000)
    assert rows[0] == full["columns"]
    assert len(rows) - 1 == len(full["rows"])
    dim = full["columns"][0]
    assert rows[1][0] == (full["rows"][0][dim] or "")


def test_csv_respects_filters(client: TestClient) -> None:
    response = client.get("/api/breakdown/sources", params=q(format="csv", device="mobile"))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    json_rows = ok(client, "/api/breakdown/sources", device="mobile", limit=1000)["rows"]
    assert [int(r["visits"]) for r in rows] == [r["visits"] for r in json_rows]


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"site": None}, "'site' is required"),
        ({"site": "nope.example"}, "unknown site"),
        ({"site": "x' OR 1=1 --"}, "unknown site"),
        ({"from": "2026-3-1"}, "YYYY-MM-DD"),
        ({"from": "01/03/2026"}, "YYYY-MM-DD"),
        ({"to": "2026-02-30"}, "not a real date"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "after"),
        ({"period": "90d"}, "'period' must be one of"),
        ({"period": "7d"}, "only go with period=custom"),
        ({"period": "custom", "to": None}, "needs both"),
        ({"visitor_id": "abc"}, "unknown parameter"),
        ({"domain_name": "x"}, "unknown parameter"),
        ({"source": ""}, "is empty"),
        ({"limit": "0"}, "'limit'"),
        ({"limit": "ten"}, "'limit'"),
        ({"format": "xml"}, "json or csv"),
        ({"prop_event": "Signup"}, "only applies"),
        ({"from": "2000-01-01"}, "at most"),
        # digits str.isdigit() takes but int() does not, or that int() cannot hold
        ({"limit": "²"}, "'limit' must be a whole number from 1 to 1000, got '²'"),
        ({"limit": "①"}, "from 1 to 1000"),
        ({"limit": "١٠"}, "from 1 to 1000"),
        ({"limit": "1" * 5000}, "from 1 to 1000"),
        ({"limit": "1001"}, "from 1 to 1000"),
        ({"limit": " 5"}, "from 1 to 1000"),
        ({"from": "٢٠٢٦-٠٣-٠١"}, "YYYY-MM-DD"),
        # dates whose previous period (or next day) lies outside what a date can hold
        ({"from": "0001-01-01"}, "'from' must be a date from 1970-01-01 to 2999-12-31"),
        ({"from": "0001-01-01", "to": "0001-01-01"}, "from 1970-01-01 to 2999-12-31"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from 1970-01-01 to 2999-12-31"),
        ({"to": "9999-12-31"}, "'to' must be a date from 1970-01-01 to 2999-12-31"),
        ({"period": "x" * 5000}, "'period' must be one of"),
    ],
)
def test_bad_input_is_a_400_with_a_reason(
    client: TestClient, params: dict[str, Any], fragment: str
) -> None:
    response = client.get("/api/summary", params=q(**params))
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]
    assert len(response.json()["error"]) < 300  # a long value is not echoed in full


def test_repeated_parameter_and_unknown_panel(client: TestClient) -> None:
    response = client.get("/api/summary", params=[*q().items(), ("source", "a"), ("source", "b")])
    assert response.status_code == 400 and "once" in response.json()["error"]
    response = client.get("/api/breakdown/visitor_id", params=q())
    assert response.status_code == 400 and "unknown breakdown" in response.json()["error"]


def test_backend_failure_is_a_502_without_internals(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from ownstats.dashboard import build_app

    secret = (
        "Athena says no: User: arn:aws:sts::123456789012:assumed-role/ownstats-Dash/x is "
        "not authorized on s3://ownstats-lake-123/ (/home/owner/ownstats-data/events)"
    )

    class Broken:
        def query(self, sql: str) -> Any:
            if "FROM events" in sql:
                return engine.query(sql)
            raise RuntimeError(secret)

    with (
        TestClient(build_app(Broken(), today=lambda: LAST_DAY)) as broken,
        caplog.at_level("ERROR"),
    ):
        response = broken.get("/api/summary", params=q())
    assert response.status_code == 502
    error = response.json()["error"]
    for internal in ("Athena says no", "123456789012", "arn:", "s3://", "/home/owner"):
        assert internal not in error
    request_id = re.search(r"request ([0-9a-f]{12})", error)
    assert request_id is not None
    # the detail is logged under the id the answer gives
    assert f"request {request_id.group(1)}" in caplog.text and secret in caplog.text


# -- current visitors --------------------------------------------------------------------


def test_current_visitors_counts_the_last_five_minutes(
    client: TestClient, engine: Engine, lake: Lake
) -> None:
    site = DOMAINS[1]
    before = client.get("/api/current-visitors", params={"site": site}).json()
    assert before == {"site": site, "visitors": 0}
    lake.add_live_visits(site, visits=6, seed=99)
    time.sleep(engine.max_staleness_s + 0.1)
    after = client.get("/api/current-visitors", params={"site": site}).json()
    expected = scalar(engine, f"SELECT visitors FROM current_visitors WHERE domain_name = '{site}'")
    assert after["visitors"] == expected > 0
    assert client.get("/api/current-visitors", params={"site": "nope"}).status_code == 400


def test_csv_defuses_formulas_that_visitors_can_send(client: TestClient) -> None:
    day = LAST_DAY.isoformat()
    params = q(**{"from": day, "to": day})
    sources = client.get("/api/breakdown/sources", params={**params, "limit": "1000"}).json()
    assert HOSTILE[1] in {r["source"] for r in sources["rows"]}  # JSON keeps the raw value
    response = client.get("/api/breakdown/sources", params={**params, "format": "csv"})
    cells = [row[0] for row in csv.reader(io.StringIO(response.text))]
    assert "'" + HOSTILE[1] in cells and HOSTILE[1] not in cells
    assert HOSTILE[0] in cells  # markup is not a formula: left as it is


def test_an_empty_lake_lists_no_sites(tmp_path: Path) -> None:
    from ownstats.dashboard import build_app

    with Engine(tmp_path) as empty, TestClient(build_app(empty)) as fresh:
        assert fresh.get("/api/sites").json()["sites"] == []
        response = fresh.get("/api/summary", params={"site": SITE})
        assert response.status_code == 400 and "unknown site" in response.json()["error"]
        assert fresh.get("/").status_code == 200


def test_an_empty_site_list_is_asked_again_at_once(engine: Engine) -> None:
    """The first hit of a new lake is queryable in ~1 s; the site list must not keep
    the empty answer for SITES_MEMO_S (it made the first hit take 5 s to show)."""
    from ownstats.dashboard import build_app

    asked: list[str] = []
    lake_has_data = False

    class Growing:
        def query(self, sql: str) -> Any:
            asked.append(sql)
            result = engine.query(sql)
            return result if lake_has_data else dataclasses.replace(result, rows=[])

    with TestClient(build_app(Growing(), today=lambda: LAST_DAY)) as app:
        assert app.get("/api/sites").json()["sites"] == []
        lake_has_data = True
        assert app.get("/api/sites").json()["sites"]  # asked again, not the memo
        assert len(asked) == 2
        app.get("/api/sites")
        assert len(asked) == 2  # a list with sites is kept for SITES_MEMO_S


# -- one request per view ----------------------------------------------------------------


def _rounded(value: Any) -> Any:
    """``value`` with every float to 9 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def test_the_page_request_answers_what_each_endpoint_answers(client: TestClient) -> None:
    state = q(period="custom", **{"from": "2026-03-03", "to": "2026-03-09"}, source="Google")
    panels = "pages,sources,countries:300,devices,custom-events,mediums"
    page = client.get("/api/page", params={**state, "panels": panels})
    assert page.status_code == 200, page.text
    body = page.json()
    # the same SQL; a float sum may differ in its last bits (parallel aggregation: this
    # failed once on CI, views_per_visit's or a duration's last digits)
    assert _rounded(body["summary"]) == _rounded(client.get("/api/summary", params=state).json())
    assert _rounded(body["timeseries"]) == _rounded(
        client.get("/api/timeseries", params=state).json()
    )
    for item in panels.split(","):
        slug, _, limit = item.partition(":")
        alone = client.get(f"/api/breakdown/{slug}", params={**state, "limit": limit or "10"})
        mine, theirs = body["panels"][item], alone.json()
        assert {k: v for k, v in mine.items() if k != "rows"} == {
            k: v for k, v in theirs.items() if k != "rows"
        }
        # the same SQL; a float sum may differ in its last bits (parallel aggregation)
        assert len(mine["rows"]) == len(theirs["rows"]), item
        for a, b in zip(mine["rows"], theirs["rows"], strict=True):
            assert a == pytest.approx(b), item
    assert body["panels"]["countries:300"]["rows"]
    assert "current_visitors" not in body and "freshness" not in body  # only with live=1

    live = client.get("/api/page", params={**state, "panels": "pages", "live": "1"}).json()
    site = {"site": state["site"]}
    assert live["current_visitors"] == client.get("/api/current-visitors", params=site).json()
    alone = client.get("/api/freshness", params=site).json()
    assert live["freshness"]["newest_event_at"] == alone["newest_event_at"]
    assert live["freshness"]["site"] == alone["site"]


def test_a_failing_part_of_the_page_fails_alone(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from ownstats.dashboard import build_app

    class NoSources:
        def query(self, sql: str) -> Any:
            if "source" in sql and "FROM sources" in sql:
                raise RuntimeError("s3://secret-bucket/ is gone")
            return engine.query(sql)

    with TestClient(build_app(NoSources(), today=lambda: LAST_DAY)) as app:
        body = app.get("/api/page", params={**q(), "panels": "pages,sources"}).json()
    assert body["panels"]["pages"]["rows"] and body["summary"]["metrics"]
    error = body["panels"]["sources"]["error"]
    assert "request " in error and "secret" not in error
    assert "s3://secret-bucket/" in caplog.text  # the detail is in the log only


def test_the_page_request_refuses_what_it_cannot_answer(client: TestClient) -> None:
    for panels, message in (
        ("pages,nope", "unknown panel 'nope'"),
        ("event-props", "unknown panel 'event-props'"),
        (",".join(["pages"] * 13), "at most 12 panels"),
        ("pages:5000", "'limit'"),
    ):
        answer = client.get("/api/page", params={**q(), "panels": panels})
        assert answer.status_code == 400 and message in answer.json()["error"], panels
    bad_range = {**q(period="custom"), "from": "2026-03-10", "to": "2026-03-01"}
    answer = client.get("/api/page", params={**bad_range, "panels": "pages"})
    assert answer.status_code == 400 and "after" in answer.json()["error"]


def test_a_stack_reading_only_the_archive_says_so_and_has_no_realtime(engine: Engine) -> None:
    """-c realtime=false: events come from the standard logs an hour or more late, so the
    page says which mode it is in, the realtime period is refused with the reason, and
    the live counter reports nothing rather than a false 0."""
    app = build_app(engine, today=lambda: LAST_DAY, archive_input=True)
    with TestClient(app) as archive:
        sites = archive.get("/api/sites").json()
        assert sites["input"]["mode"] == "archive" and "standard logs" in sites["input"]["note"]
        refused = archive.get("/api/summary", params={"site": DOMAINS[0], "period": "realtime"})
        assert refused.status_code == 400
        assert "realtime is not available" in refused.json()["error"]
        live = archive.get("/api/current-visitors", params={"site": DOMAINS[0]}).json()
        assert live["visitors"] is None and "standard logs" in live["unavailable"]
        page = archive.get(
            "/api/page", params={"site": DOMAINS[0], "period": "today", "live": "1"}
        ).json()
        assert page["current_visitors"]["visitors"] is None
        assert "error" not in page["summary"]
    with TestClient(build_app(engine, today=lambda: LAST_DAY)) as realtime:
        assert realtime.get("/api/sites").json()["input"] == {"mode": "realtime"}

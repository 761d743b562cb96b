"""The dashboard's periods, graph, comparison, details lists, goals, map and its empty
and error states, in Debian's headless Chromium over the generated lake.

The server's clock is 14:30 UTC on the lake's last day (``NOW``): today is partial.
Every check reads what the page drew (DOM, SVG, computed styles) against the API.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from dashboard_support import ARTIFACTS, DOMAINS

pytestmark = pytest.mark.browser

SITE = DOMAINS[0]


def api(pg: Any, server: str, path: str, **params: str) -> dict[str, Any]:
    response = pg.request.get(f"{server}{path}", params={"site": SITE, **params})
    assert response.ok, response.text()
    return response.json()


def query_of(pg: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(pg.url).query).items()}


def wait_ready(pg: Any) -> None:
    pg.wait_for_selector("body[data-ready]")
    pg.wait_for_function(
        "[...document.querySelectorAll('#panels [aria-busy]')]"
        ".every(e => e.getAttribute('aria-busy') === 'false')"
    )


def open_page(pg: Any, server: str, query: str) -> None:
    pg.goto(f"{server}/?site={SITE}&{query}")
    wait_ready(pg)


def press(pg: Any, key: str) -> None:
    pg.locator("#main").focus()
    pg.keyboard.press(key)
    wait_ready(pg)


def points_of(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+),([-\d.]+)", d)]


def dash(pg: Any, selector: str) -> str:
    return pg.eval_on_selector(selector, "e => getComputedStyle(e).strokeDasharray")


def test_keyboard_shortcuts_switch_periods(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, server, "period=7d")
    expected = {
        "d": ("today", "hour", 24),
        "r": ("realtime", "minute", 30),
        "e": ("yesterday", "hour", 24),
        "m": ("month", "day", 14),
        "p": ("last_month", "day", 28),
        "y": ("year", "week", 11),
        "l": ("12mo", "month", 12),
        "a": ("all", "day", 14),
        "t": ("30d", "day", 30),
    }
    pg.goto(f"{server}/?site={SITE}&period=12mo&interval=week")
    wait_ready(pg)
    for key, (period, interval, count) in expected.items():
        press(pg, key)
        assert query_of(pg)["period"] == period and "interval" not in query_of(pg)
        assert pg.input_value("#period") == period
        assert pg.get_attribute("#chart", "data-interval") == interval
        assert f"per {interval}, {count} points" in pg.get_attribute("#chart", "aria-label")
        summary = api(pg, server, "/api/summary", period=period)
        shown = pg.get_attribute('.card[data-metric="visitors"] .value', "data-value")
        assert shown == str(summary["metrics"]["visitors"]["value"])
        # all time has nothing before it to compare with
        assert pg.is_disabled("#comparison") == (period == "all")
        if period == "realtime":  # the 30 minutes before, not "since midnight"
            assert "13:31–14:01 UTC" in (pg.text_content("#compare-note") or "")
    assert pg.text_content("#range-label") == "2026-02-13 – 2026-03-14"
    # typing in a field is not a shortcut
    pg.click("#period")
    pg.keyboard.press("Escape")
    assert errors.messages == []


def test_a_card_graphs_its_metric_with_a_nice_axis(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, server, "period=30d")
    series = api(pg, server, "/api/timeseries", period="30d")
    peak = max(p["visitors"] for p in series["points"])
    top = float(pg.get_attribute("#chart svg", "data-top"))
    step = float(pg.get_attribute("#chart svg", "data-step"))
    # a step that fits: the top is the first multiple of it above the peak
    assert top >= peak > top - step and top / step <= 6
    assert pg.locator("#chart .axis-y").last.text_content() == f"{top:g}"

    pg.click('.card[data-metric="bounce_rate"] button')
    assert query_of(pg)["metric"] == "bounce_rate"
    assert pg.get_attribute("#chart", "data-metric") == "bounce_rate"
    assert pg.get_attribute('.card[data-metric="bounce_rate"] button', "aria-pressed") == "true"
    assert pg.get_attribute('.card[data-metric="visitors"] button', "aria-pressed") == "false"
    assert "Bounce rate per day" in pg.get_attribute("#chart", "aria-label")
    labels = pg.locator("#chart .axis-y").all_text_contents()
    assert labels[0] == "0%" and all(label.endswith("%") for label in labels)
    rate_top = float(pg.get_attribute("#chart svg", "data-top"))
    rate_peak = max(p["bounce_rate"] for p in series["points"] if p["bounce_rate"] is not None)
    assert rate_peak <= rate_top < rate_peak + 0.3
    # the drawn line has one point per day with data, each at its value
    line = points_of(pg.get_attribute("#chart path.line-current", "d"))
    closed = [p for p in series["points"] if p["bounce_rate"] is not None and not p["incomplete"]]
    assert len(line) == len(closed)
    box = pg.eval_on_selector("#chart svg", "s => s.viewBox.baseVal.height")
    bottom, top_y = box - 24, 10
    for (_, y), point in zip(line, closed, strict=True):
        value = (bottom - y) / (bottom - top_y) * rate_top
        assert value == pytest.approx(point["bounce_rate"], abs=0.002)

    # the interval picker: weeks instead of days, and a period key resets it
    assert pg.locator("#interval option").all_inner_texts() == ["by day", "by week"]
    pg.select_option("#interval", "week")
    wait_ready(pg)
    assert query_of(pg)["interval"] == "week"
    assert pg.get_attribute("#chart", "data-interval") == "week"
    weeks = api(pg, server, "/api/timeseries", period="30d", interval="week")["points"]
    assert pg.get_attribute("#chart path.line-current", "data-points") == str(
        len([p for p in weeks if not p["incomplete"] and p["bounce_rate"] is not None])
    )
    pg.select_option("#interval", "day")
    wait_ready(pg)

    pg.click('.card[data-metric="visit_duration_s"] button')
    assert pg.locator("#chart .axis-y").last.text_content().endswith(("s", "m"))
    duration_step = float(pg.get_attribute("#chart svg", "data-step"))
    assert duration_step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
    pg.go_back()
    assert query_of(pg)["metric"] == "bounce_rate"
    assert errors.messages == []


def test_previous_period_is_dashed_and_the_running_interval_dotted(
    server: str, page: tuple[Any, Any]
) -> None:
    pg, errors = page
    open_page(pg, server, "period=today")
    series = api(pg, server, "/api/timeseries", period="today")
    # hours 0..13 are closed, 14 is running (14:30), 15..23 are still to come
    assert pg.get_attribute("#chart path.line-current", "data-points") == "14"
    assert pg.get_attribute("#chart path.line-incomplete", "data-bucket") == "14"
    assert dash(pg, "#chart path.line-current") == "none"
    assert dash(pg, "#chart path.line-incomplete") != "none"
    assert len(points_of(pg.get_attribute("#chart path.line-incomplete", "d"))) == 2
    assert pg.get_attribute("#chart path.line-previous", "data-points") == str(
        len(series["previous"])
    )
    assert dash(pg, "#chart path.line-previous") != "none"
    assert pg.is_visible("#key-previous")
    note = pg.text_content("#compare-note")
    assert "2026-03-13 until 14:30 UTC" in note
    ARTIFACTS.mkdir(exist_ok=True)
    pg.locator(".summary").screenshot(path=str(ARTIFACTS / "dashboard-today.png"))

    pg.select_option("#comparison", "year_over_year")
    wait_ready(pg)
    assert query_of(pg)["comparison"] == "year_over_year"
    assert "2025-03-14" in pg.text_content("#compare-note")
    # a year before the lake began: nothing to compare with, no dashed line
    assert pg.locator("#chart path.line-previous").count() == 0
    assert "no previous data" in pg.text_content('.card[data-metric="visitors"]')

    press(pg, "x")  # comparison off
    assert query_of(pg)["comparison"] == "off"
    assert pg.locator("#chart path.line-previous").count() == 0
    assert pg.is_hidden("#key-previous")
    press(pg, "x")
    assert "comparison" not in query_of(pg)  # previous period, the default
    assert pg.locator("#chart path.line-previous").count() == 1
    # a closed range has no running interval
    open_page(pg, server, "period=last_month")
    assert pg.locator("#chart path.line-incomplete").count() == 0
    assert errors.messages == []


def test_details_list_searches_sorts_pages_and_exports(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, server, "period=30d")
    pg.click('#panel-0 .details-open[data-slug="pages"]')
    pg.wait_for_selector("#details[open] #details-body tbody tr")
    every = api(pg, server, "/api/breakdown/pages", period="30d", limit="1000")["rows"]
    rows = pg.locator("#details-body tbody tr")
    assert rows.count() == min(len(every), 100) > 10
    shown = pg.locator("#details-body tbody .pick").evaluate_all(
        "ps => ps.map(p => p.dataset.value)"
    )
    assert shown == [r["page_path"] for r in every[:100]]

    pg.fill("#details-search", "docs")
    pg.wait_for_function(
        "[...document.querySelectorAll('#details-body tbody .pick')]"
        ".every(p => p.dataset.value.includes('docs'))"
    )
    docs = [r["page_path"] for r in every if "docs" in r["page_path"]]
    pg.wait_for_function(
        f"document.querySelectorAll('#details-body tbody tr').length === {len(docs)}"
    )

    pg.click('#details-body .sort[data-col="page_path"]')  # A→Z
    pg.wait_for_selector('#details-body th[aria-sort="ascending"] .sort[data-col="page_path"]')
    names = pg.locator("#details-body tbody .pick").evaluate_all(
        "ps => ps.map(p => p.dataset.value)"
    )
    assert names == sorted(docs)
    pg.click('#details-body .sort[data-col="pageviews"]')
    pg.wait_for_selector('#details-body th[aria-sort="descending"] .sort[data-col="pageviews"]')
    views = pg.locator('#details-body tbody td[data-col="pageviews"]').evaluate_all(
        "cs => cs.map(c => Number(c.dataset.value))"
    )
    assert views == sorted(views, reverse=True) and len(views) == len(docs)

    with pg.expect_download() as info:
        pg.click("#details-csv")
    exported = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text("utf-8"))))
    assert [int(r["pageviews"]) for r in exported] == views
    assert info.value.suggested_filename.startswith(f"{SITE}_pages_")

    # more than a page: "Load more" fetches the next hundred
    pg.fill("#details-search", "")
    pg.wait_for_function("document.querySelectorAll('#details-body tbody tr').length > 10")
    pg.click("#details-close")
    assert not pg.is_visible("#details")
    assert errors.messages == []


def test_details_load_more(server: str, page: tuple[Any, Any]) -> None:
    """A page at a time (5 rows here, through the page_size hook; 100 normally)."""
    pg, errors = page
    open_page(pg, server, "period=30d&page_size=5")
    every = api(pg, server, "/api/breakdown/pages", period="30d", limit="1000")["rows"]
    assert len(every) > 10
    pg.click('#panel-0 .details-open[data-slug="pages"]')
    pg.wait_for_selector("#details[open] #details-body tbody tr")
    loaded = 5
    while loaded < len(every):
        assert pg.locator("#details-body tbody tr").count() == loaded
        pg.click("#details-more")
        loaded = min(loaded + 5, len(every))
        pg.wait_for_function(
            f"document.querySelectorAll('#details-body tbody tr').length === {loaded}"
        )
    pg.wait_for_selector("#details-more", state="hidden")
    shown = pg.locator("#details-body tbody .pick").evaluate_all(
        "ps => ps.map(p => p.dataset.value)"
    )
    assert shown == [r["page_path"] for r in every]
    assert errors.messages == []


def test_goals_show_conversion_rate_and_filter(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, server, "period=7d")
    goals = api(pg, server, "/api/breakdown/custom-events", period="7d")["rows"]
    first = goals[0]
    cell = pg.locator('#panel-4-body tbody tr:first-child td[data-col="conversion_rate"]')
    assert float(cell.get_attribute("data-value")) == pytest.approx(first["conversion_rate"])
    assert cell.text_content() == f"{round(first['conversion_rate'] * 100)}%"
    pg.locator('#panel-4-body .pick[data-filter="event"]').first.click()
    wait_ready(pg)
    assert query_of(pg)["event"] == first["event_name"]
    summary = api(pg, server, "/api/summary", period="7d", event=first["event_name"])
    rate = pg.get_attribute('.card[data-metric="conversion_rate"] .value', "data-value")
    assert float(rate) == pytest.approx(summary["metrics"]["conversion_rate"]["value"])
    total = pg.get_attribute('.card[data-metric="total_conversions"] .value', "data-value")
    assert int(float(total)) == summary["metrics"]["total_conversions"]["value"] > 0
    # with a goal filter, bounce rate compares with the previous 0 % (not "no data")
    bounce = pg.text_content('.card[data-metric="bounce_rate"] .change')
    assert "no previous data" not in bounce
    # the UTM tags have their own panel; a row click filters by the tag
    pg.click('#panel-5 [role=tab]:has-text("Medium")')
    pg.wait_for_selector('#panel-5-body[data-slug="mediums"] tbody tr')
    pg.locator('#panel-5-body .pick[data-filter="medium"]').first.click()
    wait_ready(pg)
    assert "medium" in query_of(pg)
    assert errors.messages == []


def test_world_map_colours_countries_by_visitors(server: str, browser: Any) -> None:
    """Under the real CSP (no bypass) and with every outside request refused."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    outside: list[str] = []
    pg.route(
        re.compile(r"^(?!http://127\.0\.0\.1:).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    messages: list[str] = []
    pg.on("console", lambda m: messages.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda exc: messages.append(str(exc)))
    try:
        pg.goto(f"{server}/?site={SITE}&period=30d")
        pg.wait_for_selector("body[data-ready]")
        pg.click("#tab-map")
        pg.wait_for_selector("#panel-2-body svg.world path.has-data")
        countries = api(pg, server, "/api/breakdown/countries", period="30d", limit="300")["rows"]
        drawn = dict(
            pg.locator("#panel-2-body path.has-data").evaluate_all(
                "ps => ps.map(p => [p.dataset.code, Number(p.dataset.visitors)])"
            )
        )
        expected = {r["country_code"]: r["visitors"] for r in countries if r["country_code"]}
        assert drawn == {c: v for c, v in expected.items() if c in drawn}
        assert len(drawn) >= len(expected) - 2  # tiny states are not on a 1:110m map
        assert pg.locator("#panel-2-body svg.world path").count() > 150
        pg.locator("#panel-2").screenshot(path=str(ARTIFACTS / "dashboard-map.png"))
        top = max(expected, key=expected.get)
        fill = pg.eval_on_selector(
            f'path[data-code="{top}"]', "p => getComputedStyle(p).fillOpacity"
        )
        assert float(fill) == pytest.approx(1.0)
        pg.click(f'#panel-2-body path[data-code="{top}"]')
        pg.wait_for_selector("body[data-ready]")
        assert query_of(pg)["country"] == top
        assert outside == [] and messages == []
    finally:
        context.close()


def test_empty_lake_shows_the_snippet(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    pg.route(
        "**/api/sites",
        lambda route: route.fulfill(json={"sites": [], "filters": {}, "none_value": "(none)"}),
    )
    pg.goto(server + "/")
    pg.wait_for_selector("body[data-ready=empty]")
    assert pg.is_visible("#empty")
    assert pg.text_content("#snippet") == f'<script defer src="{server}/hello.js"></script>'
    assert pg.is_hidden(".live") and pg.is_hidden("#summary") and pg.is_hidden("#panels")
    assert pg.is_disabled("#site")
    press_key = pg.keyboard.press
    press_key("d")  # no shortcut without a site
    assert "period" not in query_of(pg)
    # the first hit arrives: the waiting page opens the dashboard by itself
    pg.unroute("**/api/sites")
    pg.wait_for_selector("body[data-ready=true]", timeout=10_000)
    assert pg.is_hidden("#empty") and pg.is_visible("#summary")
    assert errors.messages == []


def test_invalid_range_is_an_explicit_error(server: str, page: tuple[Any, Any]) -> None:
    pg, _ = page
    pg.goto(f"{server}/?site={SITE}&period=custom&from=2026-03-10&to=2026-03-01")
    pg.wait_for_selector("body[data-ready=error]")
    assert "after" in pg.text_content("#error")
    assert pg.get_attribute("#cards", "aria-busy") == "false"
    assert "No figures" in pg.text_content("#cards")
    assert pg.text_content("#chart .chart-note") == "No graph for this state."
    pg.wait_for_function(
        "[...document.querySelectorAll('#panels [aria-busy]')]"
        ".every(e => e.getAttribute('aria-busy') === 'false')"
    )
    # the reason is said once, in the error box; the fields keep the refused range
    message = pg.text_content("#error")
    assert pg.inner_text("body").count(message) == 1
    assert (pg.input_value("#from"), pg.input_value("#to")) == ("2026-03-10", "2026-03-01")
    assert pg.locator("#panels .csv, #panels .details-open").count() == 0
    assert pg.locator("#panels .failed").count() == 6  # one per panel
    # a valid range afterwards clears it all
    pg.select_option("#period", "7d")
    wait_ready(pg)
    assert pg.is_hidden("#error") and pg.locator("#panels .csv").count() == 6


def test_every_request_goes_through_the_hosted_auth_hook(
    server: str, page: tuple[Any, Any]
) -> None:
    """The contract with the hosted dashboard: headers() on every API request (CSV
    included), ready awaited first, and a 401 hands over to expired() without a banner."""
    pg, _ = page
    pg.add_init_script(
        """
        window.authLog = [];
        window.ownstatsAuth = {
          ready: new Promise(r => setTimeout(() => { window.authLog.push('ready'); r(); }, 200)),
          headers: async () => ({ Authorization: 'Bearer t0ken' }),
          expired: () => window.authLog.push('expired'),
        };
        """
    )
    seen: list[tuple[str, str | None]] = []
    pg.on(
        "request",
        lambda r: (
            seen.append((r.url, r.headers.get("authorization"))) if "/api/" in r.url else None
        ),
    )
    open_page(pg, server, "period=7d")
    assert pg.evaluate("window.authLog[0]") == "ready"
    with pg.expect_download():
        pg.click("#panel-1 button.csv")
    assert seen and all(auth == "Bearer t0ken" for _, auth in seen)
    assert any("format=csv" in url for url, _ in seen)
    pg.route("**/api/page*", lambda route: route.fulfill(status=401, json={"error": "sign in"}))
    pg.select_option("#period", "30d")
    pg.wait_for_function("window.authLog.includes('expired')")
    assert pg.is_hidden("#error")


def test_edge_cities_are_a_location_breakdown(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, server, "period=7d")
    pg.click("#tab-cities")
    pg.wait_for_selector('#panel-2-body[data-slug="cities"] tbody tr')
    rows = api(pg, server, "/api/breakdown/cities", period="7d")["rows"]
    shown = pg.locator("#panel-2-body tbody tr")
    assert shown.count() == len(rows) > 0
    first = shown.first
    assert first.locator(".plain").inner_text().startswith(rows[0]["edge_city"])
    assert first.locator(".code").inner_text() == rows[0]["edge_country"]
    visitors = first.locator('td[data-col="visitors"]').get_attribute("data-value")
    assert visitors == str(rows[0]["visitors"])
    assert errors.messages == []


def test_hits_collected_locally_show_as_no_edge(server: str, page: tuple[Any, Any]) -> None:
    """`ownstats serve`'s collector writes an empty x-edge-location (no CloudFront)."""
    pg, errors = page

    def fulfill(route: Any) -> None:
        body = route.fetch().json()
        body["rows"].insert(
            0, {"edge_country": None, "edge_city": None, "visitors": 9999, "pageviews": 9999}
        )
        route.fulfill(json=body)

    pg.route("**/api/breakdown/cities*", fulfill)
    open_page(pg, server, "period=7d")
    pg.click("#tab-cities")
    pg.wait_for_selector('#panel-2-body[data-slug="cities"] tbody tr')
    assert pg.locator("#panel-2-body tbody tr").first.inner_text().startswith(
        "No edge (collected locally)"
    )
    assert errors.messages == []


@pytest.mark.parametrize(
    ("peak", "top", "step"), [(620, 800, 200), (97, 100, 20), (4100, 5000, 1000), (3, 4, 1)]
)
def test_y_axis_steps_fit_the_peak(
    server: str, page: tuple[Any, Any], peak: int, top: int, step: int
) -> None:
    """620 visitors at the peak: an axis to 800 in steps of 200, not to 1K."""
    pg, errors = page

    def fulfill(route: Any) -> None:  # the graph's part of the page's one request
        body = route.fetch().json()
        for i, point in enumerate(body["timeseries"]["points"]):
            point["visitors"] = peak if i == 3 else peak // 3
        body["timeseries"]["previous"] = None
        route.fulfill(json=body)

    pg.route("**/api/page*", fulfill)
    open_page(pg, server, "period=7d")
    assert float(pg.get_attribute("#chart svg", "data-top")) == top
    assert float(pg.get_attribute("#chart svg", "data-step")) == step
    labels = pg.locator("#chart .axis-y").all_text_contents()
    assert len(labels) == top // step + 1
    assert errors.messages == []


def test_arrow_keys_step_to_the_period_before_and_after(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, server, "period=7d")
    press(pg, "ArrowLeft")
    assert query_of(pg)["period"] == "custom"
    assert (query_of(pg)["from"], query_of(pg)["to"]) == ("2026-03-01", "2026-03-07")
    assert pg.text_content("#range-label") == "2026-03-01 – 2026-03-07"
    press(pg, "ArrowRight")
    assert (query_of(pg)["from"], query_of(pg)["to"]) == ("2026-03-08", "2026-03-14")
    before = pg.url
    pg.locator("#main").focus()
    pg.keyboard.press("ArrowRight")  # not past today
    assert pg.url == before
    open_page(pg, server, "period=month")
    press(pg, "ArrowLeft")  # month to date → the whole of last month
    assert (query_of(pg)["from"], query_of(pg)["to"]) == ("2026-02-01", "2026-02-28")
    assert errors.messages == []


class Throttling:
    """An ASGI wrapper that behaves like a new AWS account's Lambda quota: it counts the
    API requests in flight at once and throttles the first request of every path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inflight = 0
        self.most = 0
        self.seen: set[str] = set()
        self.throttled = 0
        self.answered = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import asyncio

        from starlette.responses import JSONResponse

        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        self.inflight += 1
        self.most = max(self.most, self.inflight)
        try:
            await asyncio.sleep(0.05)  # every request takes a while, as a Lambda does
            if path not in self.seen:
                self.seen.add(path)
                self.throttled += 1
                response = JSONResponse({"message": "Too Many Requests"}, status_code=429)
                await response(scope, receive, send)
                return
            self.answered += 1
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


def test_the_page_caps_its_requests_and_retries_throttled_ones(
    engine: Any, browser: Any
) -> None:
    """Before, a page fired ~20 API calls at once and a throttled one (429/5xx) left its
    panel failed: on a new account's 10 concurrent Lambdas, the very first visit."""
    import threading
    import time

    import uvicorn
    from dashboard_support import NOW

    from ownstats.dashboard import build_app
    from tests.cli.processes import free_port

    wrapper = Throttling(build_app(engine, now=lambda: NOW, parallel=True))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(wrapper, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    try:
        pg = context.new_page()
        open_page(pg, f"http://127.0.0.1:{port}", "period=30d")
        # the site list and the page's one request (with the live counter and freshness):
        # each throttled once, then retried
        assert wrapper.throttled >= 2 and wrapper.answered >= wrapper.throttled
        assert wrapper.most <= 4  # never more than four at once
        assert pg.locator(".failed").count() == 0 and pg.locator("#error").is_hidden()
        assert pg.locator('.card[data-metric="visitors"] .value').inner_text().strip() != ""
    finally:
        context.close()
        server.should_exit = True
        thread.join(timeout=10)


def test_an_unknown_site_in_the_link_is_named_not_silently_replaced(
    server: str, page: tuple[Any, Any]
) -> None:
    pg, _errors = page
    pg.goto(f"{server}/?site=nope.example&period=7d")
    wait_ready(pg)
    notice = pg.locator("#notice")
    assert notice.is_visible()
    assert 'No data for the site "nope.example"' in notice.inner_text()
    assert query_of(pg)["site"] == SITE
    pg.select_option("#site", DOMAINS[1])
    wait_ready(pg)
    assert notice.is_hidden()


def test_the_incomplete_key_shows_only_while_an_interval_is_still_counting(
    server: str, page: tuple[Any, Any]
) -> None:
    """Before, "Incomplete (still counting)" was shown for closed ranges too."""
    pg, _errors = page
    open_page(pg, server, "period=custom&from=2026-03-01&to=2026-03-07")
    assert pg.locator("#key-incomplete").is_hidden()
    assert pg.locator("#chart .line-incomplete").count() == 0
    open_page(pg, server, "period=7d")  # ends today, mid-afternoon: the last day runs
    assert pg.locator("#key-incomplete").is_visible()
    assert pg.locator("#chart .line-incomplete").count() == 1


def test_on_a_phone_the_live_counter_never_overlaps_the_wordmark(
    server: str, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 760}, bypass_csp=True)
    try:
        pg = context.new_page()
        open_page(pg, server, "period=7d")
        # the widest it gets: a busy site's count and the freshness note
        pg.evaluate(
            "() => { document.querySelector('.live').hidden = false;"
            " document.querySelector('#current').textContent = '12,345';"
            " const f = document.querySelector('#freshness'); f.hidden = false;"
            " f.textContent = '· updated 59 s ago'; }"
        )
        brand = pg.locator(".brand").bounding_box()
        live = pg.locator(".live").bounding_box()
        assert brand and live
        overlap_x = min(brand["x"] + brand["width"], live["x"] + live["width"]) - max(
            brand["x"], live["x"]
        )
        overlap_y = min(brand["y"] + brand["height"], live["y"] + live["height"]) - max(
            brand["y"], live["y"]
        )
        assert overlap_x <= 0 or overlap_y <= 0, (brand, live)
        assert live["x"] + live["width"] <= 390  # nothing cut at the screen's edge
        assert live["width"] > 150  # a line of its own beside the wordmark, not a sliver
        site = pg.locator("#site").bounding_box()
        assert site and site["y"] >= max(brand["y"] + brand["height"], live["y"])
    finally:
        context.close()


def test_a_sites_time_zone_is_the_pages_clock(zoned_server: str, page: tuple[Any, Any]) -> None:
    """14:30 UTC is 20:00 in Kolkata: today is compared with yesterday until 20:00 there."""
    pg, errors = page
    open_page(pg, zoned_server, "period=today")
    assert "until 20:00 Asia/Kolkata" in (pg.text_content("#compare-note") or "")
    incomplete = api(pg, zoned_server, "/api/timeseries", period="today")["points"]
    assert [p["incomplete"] for p in incomplete].index(True) == 20
    assert errors.messages == []


def test_a_view_is_one_request(server: str, page: tuple[Any, Any]) -> None:
    """Cards, graph, every panel, the live counter and freshness come in one /api/page
    request (hosted: one Lambda invocation, not ~20): a first load is that and the site
    list, two calls; a tab switch asks only for that tab."""
    pg, errors = page
    asked: list[str] = []
    pg.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
    open_page(pg, server, "period=7d")
    pg.wait_for_function("document.querySelector('#current').dataset.value !== undefined")
    assert sorted(u.split("?")[0].rsplit("/", 1)[-1] for u in asked) == ["page", "sites"]
    views = [u for u in asked if "/api/page" in u]
    assert len(views) == 1 and "live=1" in views[0]
    assert not [u for u in asked if any(p in u for p in ("/summary", "/timeseries", "/breakdown"))]
    asked.clear()
    pg.locator('#panel-3-body .pick[data-filter="device"][data-value="mobile"]').click()
    wait_ready(pg)
    panels = [u for u in asked if any(p in u for p in ("/summary", "/timeseries", "/breakdown"))]
    assert len([u for u in asked if "/api/page" in u]) == 1 and panels == []
    asked.clear()
    pg.click("#tab-browsers")
    pg.wait_for_selector('#panel-3-body[data-slug="browsers"] tbody tr')
    assert [u.split("?")[0].rsplit("/", 1)[-1] for u in asked if "/api/" in u] == ["browsers"]
    assert errors.messages == []


def test_a_stack_without_the_stream_shows_its_mode_and_no_realtime(
    page: tuple[Any, Any], archive_server: str
) -> None:
    pg, errors = page
    # a shared realtime link: the page says why and shows today instead
    pg.goto(f"{archive_server}/?site={SITE}&period=realtime")
    wait_ready(pg)
    assert query_of(pg)["period"] == "today"
    assert "Realtime is not available" in pg.inner_text("#notice")
    option = pg.locator('#period option[value="realtime"]')
    assert option.is_disabled() and "not available" in option.inner_text()
    pg.wait_for_function("document.querySelector('.live-label').textContent.includes('standard')")
    assert pg.locator("#current").is_hidden()
    assert "15 minutes" in pg.locator(".live-label").get_attribute("title")
    press(pg, "r")  # the realtime key does nothing here
    assert query_of(pg)["period"] == "today"
    assert errors.messages == []


def test_a_property_value_filters_the_page(server: str, page: tuple[Any, Any]) -> None:
    """#24: a goal's property row (plan: pro) is a filter; the cards then equal the API's
    answer for prop.plan=pro, and the chip names the property."""
    pg, errors = page
    open_page(pg, server, "period=7d")
    signup = pg.locator('#panel-4-body tbody tr:has(.pick[data-value="Signup"])')
    signup.locator("button.toggle").click()
    pick = pg.locator('#panel-4-body tr.props .pick[data-filter="prop.plan"]').first
    pick.wait_for()
    value = pick.get_attribute("data-value")
    pick.click()
    wait_ready(pg)
    assert query_of(pg)["prop.plan"] == value
    chip = pg.locator('#chips .chip[data-filter="prop.plan"]')
    assert chip.inner_text().startswith(f"Property plan is {value}")
    summary = api(pg, server, "/api/summary", period="7d", **{"prop.plan": value})
    shown = pg.get_attribute('.card[data-metric="visitors"] .value', "data-value")
    assert int(float(shown)) == summary["metrics"]["visitors"]["value"] > 0
    everyone = api(pg, server, "/api/summary", period="7d")["metrics"]["visitors"]["value"]
    assert summary["metrics"]["visitors"]["value"] < everyone
    assert errors.messages == []


def test_the_properties_tab_lists_values_per_name_and_filters(
    server: str, page: tuple[Any, Any]
) -> None:
    """#24: the Goals panel's Properties tab lists every property's values (name: value)
    with the API's figures; a row click filters the page by that property."""
    pg, errors = page
    open_page(pg, server, "period=7d")
    pg.click('#panel-4 [role=tab]:has-text("Properties")')
    pg.wait_for_selector('#panel-4-body[data-slug="props"] tbody tr')
    rows = api(pg, server, "/api/breakdown/props", period="7d")["rows"]
    shown = pg.locator('#panel-4-body[data-slug="props"] tbody .pick').evaluate_all(
        "ps => ps.map(p => [p.dataset.filter, p.dataset.value, p.textContent])"
    )
    assert shown == [
        [f"prop.{r['prop_key']}", r["prop_value"], f"{r['prop_key']}: {r['prop_value']}"]
        for r in rows
    ]
    first = rows[0]
    pg.locator('#panel-4-body[data-slug="props"] tbody .pick').first.click()
    wait_ready(pg)
    assert query_of(pg)[f"prop.{first['prop_key']}"] == first["prop_value"]
    asked = {f"prop.{first['prop_key']}": first["prop_value"]}
    summary = api(pg, server, "/api/summary", period="7d", **asked)
    cards = pg.get_attribute('.card[data-metric="visitors"] .value', "data-value")
    assert int(float(cards)) == summary["metrics"]["visitors"]["value"] > 0
    assert errors.messages == []


def test_the_filter_form_adds_is_not_and_several_values(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, server, "period=30d")
    sources = api(pg, server, "/api/breakdown/sources", period="30d")["rows"]
    first, second = sources[0]["source"], sources[1]["source"]
    pg.click("#add-filter > summary")
    pg.select_option("#filter-name", "source")
    pg.select_option("#filter-op", "is_not")
    pg.fill("#filter-values", f"{first} | {second}")
    pg.click('#filter-form button[type="submit"]')
    wait_ready(pg)
    assert query_of(pg)["source"] == f"!{first}|{second}"
    chip = pg.locator('#chips .chip[data-filter="source"]').inner_text()
    assert chip.startswith(f"Source is not {first} or {second}")
    listed = api(pg, server, "/api/breakdown/sources", period="30d", source=f"!{first}|{second}")
    assert not {first, second} & {r["source"] for r in listed["rows"]}
    drawn = pg.locator("#panel-1-body tbody .pick").all_inner_texts()
    assert first not in drawn and second not in drawn
    # a custom property by name, "contains"
    pg.click("#add-filter > summary")
    pg.select_option("#filter-name", "prop")
    pg.fill("#filter-prop", "plan")
    pg.select_option("#filter-op", "contains")
    pg.fill("#filter-values", "t")
    pg.click('#filter-form button[type="submit"]')
    wait_ready(pg)
    assert query_of(pg)["prop.plan"] == "~t"
    summary = api(pg, server, "/api/summary", period="30d", source=f"!{first}|{second}",
                  **{"prop.plan": "~t"})  # fmt: skip
    shown = pg.get_attribute('.card[data-metric="visitors"] .value', "data-value")
    assert int(float(shown)) == summary["metrics"]["visitors"]["value"] > 0
    assert errors.messages == []


def test_the_funnel_panel_shows_each_step(funnel_server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_page(pg, funnel_server, "period=30d")
    pg.wait_for_selector('#funnel-steps[aria-busy="false"] .funnel-step')
    for name in ("Signup", "Reading"):
        if name != "Signup":
            pg.select_option("#funnel-name", name)
            pg.wait_for_function(
                "document.querySelector('#funnel-steps .funnel-step .plain')"
                f".textContent === '/' && document.querySelectorAll('#funnel-steps li').length "
                f"=== 3 && document.querySelector('#funnel-name').value === '{name}'"
            )
            pg.wait_for_selector('#funnel-steps[aria-busy="false"]')
        answer = api(pg, funnel_server, "/api/funnel", period="30d", funnel=name)
        steps = pg.locator("#funnel-steps .funnel-step")
        assert steps.count() == len(answer["steps"])
        drawn = [int(v) for v in steps.evaluate_all("ls => ls.map(l => l.dataset.visitors)")]
        assert drawn == [s["visitors"] for s in answer["steps"]]
        assert drawn[0] > drawn[-1] > 0
        labels = pg.locator("#funnel-steps .funnel-step .plain").all_inner_texts()
        assert labels == [s["label"] for s in answer["steps"]]
    assert errors.messages == []


def test_no_funnel_panel_without_funnels(server: str, page: tuple[Any, Any]) -> None:
    pg, _ = page
    open_page(pg, server, "period=7d")
    assert pg.locator("#funnel").is_hidden()

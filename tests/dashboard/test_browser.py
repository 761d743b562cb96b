"""The dashboard in a real headless Chromium (Debian's), served by uvicorn.

Each test drives the page as a person would (click a row, remove a chip, pick a
range, export, wait for the live counter) and checks what is shown against the API,
the URL and the console. Screenshots land in test-artifacts/ for a human look.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from dashboard_support import ARTIFACTS, DOMAINS, HOSTILE, Lake

pytestmark = pytest.mark.browser

SITE = DOMAINS[0]
START = f"/?site={SITE}&period=7d"
CARDS = ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration_s")


def api(pg: Any, server: str, path: str, **params: str) -> dict[str, Any]:
    response = pg.request.get(f"{server}{path}", params=params)
    assert response.ok, response.text()
    return response.json()


def query_of(pg: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(pg.url).query).items()}


def cards(pg: Any) -> dict[str, str]:
    return {
        name: pg.get_attribute(f'.card[data-metric="{name}"] .value', "data-value")
        for name in CARDS
    }


def expect_cards_match(pg: Any, server: str, **params: str) -> dict[str, Any]:
    body = api(pg, server, "/api/summary", **params)
    shown = cards(pg)
    for name in CARDS:
        value = body["metrics"][name]["value"]
        if isinstance(value, float):  # parallel float sums may differ in the last digit
            assert float(shown[name]) == pytest.approx(value), name
        else:
            assert shown[name] == ("" if value is None else str(value)), name
    return body


def open_dashboard(pg: Any, server: str, path: str = START) -> None:
    pg.goto(server + path)
    wait_ready(pg)


def wait_ready(pg: Any) -> None:
    pg.wait_for_selector("body[data-ready]")
    pg.wait_for_function(
        "[...document.querySelectorAll('#panels [aria-busy]')]"
        ".every(e => e.getAttribute('aria-busy') === 'false')"
    )


def no_errors(errors: Any) -> None:
    assert errors.messages == []


def test_load_shows_the_apis_numbers(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_dashboard(pg, server)
    body = expect_cards_match(pg, server, site=SITE, period="7d")
    assert int(cards(pg)["visitors"]) > 0
    assert pg.text_content("#range-label") == "2026-03-08 – 2026-03-14"
    assert body["meta"]["from"] == "2026-03-08"
    # the graph: one point per day, drawn as SVG, summarised for screen readers
    assert "per day, 7 points" in pg.get_attribute("#chart", "aria-label")
    assert pg.locator("#chart svg path.line-current").count() == 1
    # every panel shows rows, and the first source row equals the API's
    sources = api(pg, server, "/api/breakdown/sources", site=SITE, period="7d")["rows"]
    first = pg.locator('#panels .pick[data-filter="source"]').first
    assert first.get_attribute("data-value") == sources[0]["source"]
    for n in range(5):
        assert pg.locator(f"#panel-{n}-body tbody tr").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)
    no_errors(errors)


def test_click_a_row_filters_and_the_chip_removes_it(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_dashboard(pg, server)
    before = cards(pg)["visits"]
    pg.click('#panel-3-body .pick[data-filter="device"][data-value="mobile"]')
    wait_ready(pg)
    assert query_of(pg)["device"] == "mobile"
    chip = pg.locator("#chips .chip")
    assert chip.count() == 1 and "Device is mobile" in chip.inner_text()
    after = expect_cards_match(pg, server, site=SITE, period="7d", device="mobile")
    assert str(after["metrics"]["visits"]["value"]) != before
    # the devices panel now lists only the clicked value
    assert pg.locator("#panel-3-body tbody tr").count() == 1

    # a second filter from another panel combines with the first
    pg.locator('#panel-1-body .pick[data-filter="source"]').first.click()
    wait_ready(pg)
    assert set(query_of(pg)) >= {"device", "source"}
    assert pg.locator("#chips .chip").count() == 2

    pg.click('#chips button[aria-label^="Remove filter Device"]')
    wait_ready(pg)
    assert "device" not in query_of(pg) and "source" in query_of(pg)

    # back and forward walk through the states
    pg.go_back()
    wait_ready(pg)
    assert {"device", "source"} <= set(query_of(pg))
    assert pg.locator("#chips .chip").count() == 2
    pg.go_back()
    pg.go_back()
    wait_ready(pg)
    assert pg.locator("#chips .chip").count() == 0
    assert cards(pg)["visits"] == before

    # a page filter selects whole visits, and its chip says so (not "Page is")
    pg.locator('#panel-0-body .pick[data-filter="page"]').first.click()
    wait_ready(pg)
    page_chip = pg.locator("#chips .chip").inner_text()
    assert page_chip.startswith("Visits that viewed /") and "Page is" not in page_chip
    no_errors(errors)


def test_change_range_and_custom_day(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_dashboard(pg, server)
    pg.select_option("#period", "30d")
    wait_ready(pg)
    assert query_of(pg)["period"] == "30d"
    assert pg.text_content("#range-label") == "2026-02-13 – 2026-03-14"
    expect_cards_match(pg, server, site=SITE, period="30d")

    pg.select_option("#period", "custom")
    pg.fill("#from", "2026-03-10")
    pg.fill("#to", "2026-03-10")
    pg.click("#custom button[type=submit]")
    wait_ready(pg)
    assert (
        query_of(pg).items()
        >= {"period": "custom", "from": "2026-03-10", "to": "2026-03-10"}.items()
    )
    assert "per hour, 24 points" in pg.get_attribute("#chart", "aria-label")
    expect_cards_match(
        pg, server, site=SITE, period="custom", **{"from": "2026-03-10", "to": "2026-03-10"}
    )
    # the site picker switches site and keeps the range
    pg.select_option("#site", DOMAINS[1])
    wait_ready(pg)
    assert query_of(pg)["site"] == DOMAINS[1] and query_of(pg)["from"] == "2026-03-10"
    no_errors(errors)


def test_csv_export_downloads_the_panel(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    open_dashboard(pg, server)
    with pg.expect_download() as info:
        pg.click("#panel-1 button.csv")
    download = info.value
    assert download.suggested_filename == f"{SITE}_sources_2026-03-08_2026-03-14.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    full = api(pg, server, "/api/breakdown/sources", site=SITE, period="7d", limit="1000")
    defused = ["'" + r["source"] if r["source"][0] in "=+-@" else r["source"] for r in full["rows"]]
    assert [r["source"] for r in rows] == defused
    no_errors(errors)


def test_current_visitors_refresh_live(server: str, page: tuple[Any, Any], lake: Lake) -> None:
    pg, errors = page
    summaries: list[str] = []
    cards = ("/api/summary", "/api/page")  # a load asks /api/page, a quiet refresh summary
    pg.on("request", lambda r: summaries.append(r.url) if any(c in r.url for c in cards) else None)
    open_dashboard(pg, server, START + "&refresh=1")
    pg.wait_for_function("document.querySelector('#current').dataset.value !== ''")
    initial = int(pg.get_attribute("#current", "data-value"))
    assert pg.get_attribute(".live", "aria-live") == "polite"
    lake.add_live_visits(SITE, visits=5, seed=4242)
    expected = 0
    for _ in range(50):  # the view reads the lake within max_staleness_s
        expected = api(pg, server, "/api/current-visitors", site=SITE)["visitors"]
        if expected > initial:
            break
        pg.wait_for_timeout(100)
    assert expected > initial
    pg.wait_for_function(
        f"document.querySelector('#current').dataset.value === '{expected}'", timeout=5000
    )
    assert "refresh=1" in pg.url  # the test hook survives navigation
    # a range ending today also refreshes cards and graph quietly, every 6 live ticks
    with pg.expect_request(lambda r: "/api/summary" in r.url, timeout=10_000):
        pass
    assert len(summaries) >= 2
    wait_ready(pg)
    expect_cards_match(pg, server, site=SITE, period="7d")
    # how old the figures may be: when the backend last read the data
    assert (pg.text_content("#freshness") or "").startswith("· updated ")
    freshness = api(pg, server, "/api/freshness", site=SITE)
    assert freshness["newest_event_at"] and freshness["age_s"] >= 0
    no_errors(errors)


def test_keyboard_goals_and_phone_layout(server: str, browser: Any) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, accept_downloads=True, bypass_csp=True
    )
    pg = context.new_page()
    messages: list[str] = []
    pg.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda exc: messages.append(str(exc)))
    try:
        open_dashboard(pg, server)
        # nothing wider than the phone
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        assert pg.get_by_label("Site", exact=True).is_visible()
        assert pg.get_by_label("Period", exact=True).is_visible()
        pg.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

        # expand a goal to see its properties (keyboard: focus + Enter)
        toggle = pg.locator("#panel-4-body .toggle").first
        toggle.focus()
        pg.keyboard.press("Enter")
        assert toggle.get_attribute("aria-expanded") == "true"
        pg.wait_for_selector("#panel-4-body tr.props th[scope=row]")
        props = pg.locator("#panel-4-body tr.props").count()
        pg.locator("#panel-4-body .toggle").nth(1).click()  # a second goal opens too
        pg.wait_for_function(
            f"document.querySelectorAll('#panel-4-body tr.props').length > {props} && "
            "!document.querySelector('#panel-4-body').textContent.includes('Loading')"
        )
        both = pg.locator("#panel-4-body tr.props").count()
        toggle.click()  # and the first closes, leaving the second's rows
        assert toggle.get_attribute("aria-expanded") == "false"
        assert pg.locator("#panel-4-body tr.props").count() == both - props

        # tabs switch with the arrow keys
        pg.locator("#tab-pages").focus()
        pg.keyboard.press("ArrowRight")
        pg.wait_for_selector('#panel-0-body[data-slug="entry-pages"]')
        assert pg.get_attribute("#tab-entry-pages", "aria-selected") == "true"

        # a row's filter button works from the keyboard too
        pick = pg.locator('#panel-2-body .pick[data-filter="country"]').first
        country = pick.get_attribute("data-value")
        pick.focus()
        pg.keyboard.press("Enter")
        wait_ready(pg)
        assert query_of(pg)["country"] == country

        # semantic tables: caption plus header cells with scope
        assert pg.locator("#panels table caption").count() >= 5
        assert pg.locator("#panels tbody th[scope=row]").count() > 0
        assert messages == []
    finally:
        context.close()


def test_bad_url_state_shows_the_apis_reason(server: str, page: tuple[Any, Any]) -> None:
    pg, _ = page
    pg.goto(f"{server}/?site={SITE}&period=custom&from=2026-03-10&to=2026-03-01")
    pg.wait_for_selector("#error:not([hidden])")
    assert "after" in pg.text_content("#error")


def test_page_runs_under_its_csp(server: str, browser: Any) -> None:
    """Without Playwright's CSP bypass: the page needs no inline script, eval or CDN."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    messages: list[str] = []
    pg.on("console", lambda m: messages.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda exc: messages.append(str(exc)))
    try:
        pg.goto(server + START)
        pg.wait_for_selector("body[data-ready]")
        pg.wait_for_selector("#panel-4-body table")
        pg.hover("#chart")  # the tooltip positions itself through CSSOM, allowed by CSP
        assert pg.locator("#cards .card").count() == 6
        assert messages == []
    finally:
        context.close()


def test_values_from_visitors_render_as_text(server: str, page: tuple[Any, Any]) -> None:
    """A source like ``<img onerror=…>`` is shown, filtered and chipped as plain text."""
    pg, errors = page
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    day = "2026-03-14"
    open_dashboard(pg, server, f"/?site={SITE}&period=custom&from={day}&to={day}")
    pick = pg.locator(f'#panel-1-body .pick[data-value="{HOSTILE[0]}"]')
    assert pick.inner_text() == HOSTILE[0]
    assert pg.locator("#panels img").count() == 0
    pick.click()
    wait_ready(pg)
    assert query_of(pg)["source"] == HOSTILE[0]
    assert HOSTILE[0] in pg.locator("#chips .chip").inner_text()
    expect_cards_match(
        pg, server, site=SITE, period="custom", source=HOSTILE[0], **{"from": day, "to": day}
    )
    assert pg.locator("body img").count() == 0 and dialogs == []
    no_errors(errors)


def test_no_data_yet_says_what_to_do(server: str, page: tuple[Any, Any]) -> None:
    pg, errors = page
    pg.route(
        "**/api/sites",
        lambda route: route.fulfill(json={"sites": [], "filters": {}, "none_value": "(none)"}),
    )
    pg.goto(server + "/")
    pg.wait_for_selector("#empty:not([hidden])")
    assert "ownstats demo" in pg.text_content("#empty")
    assert pg.is_disabled("#site")
    no_errors(errors)

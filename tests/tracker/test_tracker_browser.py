"""hello.js in a real Chromium: every behaviour of docs/TRACKER.md, asserted on the beacons.

Each test loads a page on its own ``tN.site.test`` host with the tracker from
``collector.test`` and checks the ``/hello.gif`` query strings the collector
received: what is sent, when, and (as much as what is sent) what never is.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from chromium import HIDE, SHOW

from stream_processor.beacon import decode
from tests.tracker.conftest import LOCALE, SCREEN, TIMEZONE, VIEWPORT, NewPage, Site

pytestmark = pytest.mark.browser

TALL = '<div style="height:5000px">tall page</div>'


def storage_used(page: Any) -> int:
    """Keys in localStorage + sessionStorage of the page's origin."""
    return int(page.evaluate("localStorage.length + sessionStorage.length"))


# --- page views --------------------------------------------------------------


def test_pageview_carries_the_spec_parameters(site: Site, page: Any) -> None:
    url = site.page("/pricing")
    page.goto(url)
    [pv] = site.wait(t="pv")
    assert pv["v"] == "1"
    assert pv["u"] == f"{site.origin}/pricing"
    assert pv["w"] == str(VIEWPORT["width"])
    assert (pv["sw"], pv["sh"]) == (str(SCREEN["width"]), str(SCREEN["height"]))
    assert pv["l"] == LOCALE
    assert pv["tz"] == TIMEZONE
    assert pv["id"]
    assert "r" not in pv  # typed-in visit: no referrer at all, not an empty one
    assert set(pv) <= {"v", "t", "u", "id", "w", "sw", "sh", "l", "tz"}


def test_utm_and_source_come_from_the_url_but_the_query_never_does(site: Site, page: Any) -> None:
    url = site.page("/landing")
    page.goto(
        url + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
        "&utm_term=shoes&utm_content=hero&ref=hn&email=alice%40example.com#top"
    )
    [pv] = site.wait(t="pv")
    assert pv["u"] == f"{site.origin}/landing"  # no query, no fragment
    assert (pv["us"], pv["um"], pv["uc"], pv["ut"], pv["un"]) == (
        "newsletter",
        "email",
        "spring",
        "shoes",
        "hero",
    )
    assert pv["s"] == "hn"
    assert not any("alice" in value for value in pv.values())


def test_source_parameter_is_the_fallback_for_ref(site: Site, page: Any) -> None:
    page.goto(site.page("/") + "?source=producthunt")
    [pv] = site.wait(t="pv")
    assert pv["s"] == "producthunt"


def test_referrer_on_first_pageview_only_and_without_its_query(site: Site, page: Any) -> None:
    site.page("/from", body='<a id="go" href="/app/one">next</a>')
    site.page("/app/one")
    page.goto(site.origin + "/from?session=secret")
    site.wait(t="pv", u=f"{site.origin}/from")
    page.click("#go")
    [pv] = site.wait(t="pv", u=f"{site.origin}/app/one")
    assert pv["r"] == f"{site.origin}/from"  # same-origin referrer, query stripped
    page.evaluate("history.pushState({}, '', '/app/two')")
    [spa] = site.wait(t="pv", u=f"{site.origin}/app/two")
    assert "r" not in spa


def test_each_pageview_gets_a_fresh_id(site: Site, page: Any) -> None:
    site.page("/b")
    page.goto(site.page("/a"))
    page.evaluate("history.pushState({}, '', '/b')")
    page.reload()
    ids = [pv["id"] for pv in site.wait(3, t="pv")]
    assert len(set(ids)) == 3


# --- single-page apps ----------------------------------------------------------


def test_spa_navigation_pushstate_replacestate_popstate(site: Site, page: Any) -> None:
    page.goto(site.page("/app/a"))
    site.wait(t="pv", u=f"{site.origin}/app/a")
    page.evaluate("history.pushState({}, '', '/app/b')")
    site.wait(t="pv", u=f"{site.origin}/app/b")
    page.evaluate("history.pushState({}, '', '/app/b?tab=2')")  # same path: not a view
    page.evaluate("history.replaceState({}, '', '/app/c')")
    site.wait(t="pv", u=f"{site.origin}/app/c")
    page.evaluate("history.back()")  # entries: a, b, c (replaced b?tab=2): back to b
    site.wait(2, t="pv", u=f"{site.origin}/app/b")
    paths = [urlsplit(b["u"]).path for b in site.quiet(0.4) if b["t"] == "pv"]
    assert paths == ["/app/a", "/app/b", "/app/c", "/app/b"]


def test_hash_mode_counts_fragments_as_pages(site: Site, page: Any) -> None:
    page.goto(site.page("/", attrs="data-hash") + "#/home")
    site.wait(t="pv", u=f"{site.origin}/#/home")
    page.evaluate("location.hash = '#/settings'")
    site.wait(t="pv", u=f"{site.origin}/#/settings")


def test_without_hash_mode_fragments_are_ignored(site: Site, page: Any) -> None:
    page.goto(site.page("/docs") + "#intro")
    site.wait(t="pv", u=f"{site.origin}/docs")
    page.evaluate("location.hash = '#usage'")
    beacons = site.quiet()
    assert [b["u"] for b in beacons if b["t"] == "pv"] == [f"{site.origin}/docs"]


def test_data_exclude_patterns(site: Site, page: Any) -> None:
    page.goto(site.page("/admin/users", attrs='data-exclude="/admin/*, /private"'))
    page.evaluate("ownstats('Excluded click')")
    page.evaluate("history.pushState({}, '', '/private')")
    page.evaluate("history.pushState({}, '', '/private.html')")  # `.` is literal, no match
    site.wait(t="pv", u=f"{site.origin}/private.html")
    page.evaluate("history.pushState({}, '', '/admin')")  # `/admin/*` needs the slash
    site.wait(t="pv", u=f"{site.origin}/admin")
    beacons = site.quiet(0.3)
    assert [urlsplit(b["u"]).path for b in beacons if b["t"] == "pv"] == [
        "/private.html",
        "/admin",
    ]
    assert not [b for b in beacons if b["t"] == "ev"]


# --- custom events ---------------------------------------------------------------


def test_queued_calls_are_drained_and_the_api_sends_events(site: Site, page: Any) -> None:
    early = "<script>ownstats('Signup', {props: {plan: 'pro', seats: 3}})</script>"
    page.goto(site.page("/signup", head=early))
    [queued] = site.wait(t="ev", n="Signup")
    assert json.loads(queued["p"]) == {"plan": "pro", "seats": 3}  # strings: the processor's job
    assert queued["u"] == f"{site.origin}/signup"
    page.evaluate("ownstats('Play video')")
    [plain] = site.wait(t="ev", n="Play video")
    assert "p" not in plain
    pv = site.wait(t="pv")[0]
    assert queued["id"] == plain["id"] == pv["id"]  # events belong to the page view


def test_event_props_reach_storage_as_at_most_30_strings(site: Site, page: Any) -> None:
    # The tracker sends what the page gave; the processor's decoder bounds it.
    page.goto(site.page("/"))
    page.evaluate(
        "ownstats('Wide', {props: Object.fromEntries("
        "[...Array(40).keys()].map(i => ['k' + i, i]))})"
    )
    site.wait(t="ev", n="Wide")
    [hit] = [h for h in site.collector.gif_hits(site.host) if h.params["t"] == "ev"]
    beacon = decode(hit.query)
    assert beacon.props == {f"k{i}": str(i) for i in range(30)}


def test_beacons_leave_no_error_in_the_page(site: Site, page: Any) -> None:
    # Answered, a beacon logs nothing (the collector's CORS header); blocked (an
    # ad blocker), only the browser's own network line appears: no uncaught
    # error or rejection reaches the site's error monitoring.
    console: list[str] = []
    thrown: list[str] = []
    page.on("console", lambda m: m.type == "error" and console.append(f"{m.text} {m.location}"))
    page.on("pageerror", lambda error: thrown.append(str(error)))
    page.goto(site.page("/", body=TALL))
    site.wait(t="pv")
    page.evaluate("ownstats('Answered')")
    site.wait(t="ev", n="Answered")
    page.evaluate("new Promise(done => setTimeout(done, 100))")
    assert [line for line in console if "hello" in line] == []
    page.route("**/hello.gif*", lambda route: route.abort())
    page.evaluate("ownstats('Blocked')")
    page.evaluate(HIDE)
    page.evaluate("new Promise(done => setTimeout(done, 300))")
    blocked = [line for line in console if "hello" in line]
    assert len(blocked) == 2 and all("net::ERR_FAILED" in line for line in blocked)
    assert thrown == []


# --- outbound links and downloads ------------------------------------------------

OUTBOUND_BODY = '<a id="out" href="{href}">elsewhere</a>'


def test_outbound_click_is_sent_and_navigation_not_held_up(site: Site, page: Any) -> None:
    target = site.collector.origin + "/landing?token=secret#x"
    page.goto(site.page("/", body=OUTBOUND_BODY.format(href=target)))
    site.wait(t="pv")
    started = time.monotonic()
    page.click("#out")
    page.wait_for_url(f"{site.collector.origin}/landing*", wait_until="commit")
    elapsed = time.monotonic() - started
    [event] = site.wait(t="ev", n="Outbound Link: Click")
    assert json.loads(event["p"]) == {"url": f"{site.collector.origin}/landing"}
    assert elapsed < 1.0, f"navigation took {elapsed:.3f}s"


def test_link_clicks_are_never_prevented(site: Site, page: Any) -> None:
    # A listener on window runs after the tracker's (on document): it sees
    # whether the tracker called preventDefault, then stops the navigation.
    spy = (
        "<script>addEventListener('click', e => {"
        " window.prevented = e.defaultPrevented; e.preventDefault() })</script>"
    )
    body = OUTBOUND_BODY.format(href="https://example.org/x") + spy
    page.goto(site.page("/", body=body))
    page.click("#out")
    site.wait(t="ev", n="Outbound Link: Click")
    assert page.evaluate("window.prevented") is False


def test_file_download_click(site: Site, page: Any) -> None:
    site.raw("/files/report.pdf", b"%PDF-1.4 not really", "text/plain")
    body = '<a id="dl" href="/files/report.pdf?sig=abc">report</a>'
    page.goto(site.page("/", body=body))
    site.wait(t="pv")
    page.click("#dl")
    [event] = site.wait(t="ev", n="File Download")
    assert json.loads(event["p"]) == {"url": f"{site.origin}/files/report.pdf"}


def test_middle_click_on_outbound_link(site: Site, page: Any) -> None:
    spy = "<script>addEventListener('auxclick', e => e.preventDefault())</script>"
    page.goto(site.page("/", body=OUTBOUND_BODY.format(href="https://example.org/a") + spy))
    site.wait(t="pv")
    page.click("#out", button="middle")
    [event] = site.wait(t="ev", n="Outbound Link: Click")
    assert json.loads(event["p"]) == {"url": "https://example.org/a"}


def test_download_attribute_marks_a_download(site: Site, page: Any) -> None:
    spy = "<script>addEventListener('click', e => e.preventDefault())</script>"
    body = '<a id="dl" href="/export/latest" download>export</a>' + spy
    page.goto(site.page("/", body=body))
    site.wait(t="pv")
    page.click("#dl")
    [event] = site.wait(t="ev", n="File Download")
    assert json.loads(event["p"]) == {"url": f"{site.origin}/export/latest"}


def test_same_site_links_send_no_event(site: Site, page: Any) -> None:
    site.page("/next")
    page.goto(site.page("/", body='<a id="in" href="/next">next</a>'))
    page.click("#in")
    site.wait(t="pv", u=f"{site.origin}/next")
    assert not [b for b in site.quiet(0.3) if b["t"] == "ev"]


@pytest.mark.parametrize(
    ("attr", "href"),
    [("data-no-outbound", "https://example.org/"), ("data-no-downloads", "/files/a.zip")],
)
def test_link_events_can_be_turned_off(site: Site, page: Any, attr: str, href: str) -> None:
    spy = "<script>addEventListener('click', e => e.preventDefault())</script>"
    page.goto(site.page("/", attrs=attr, body=OUTBOUND_BODY.format(href=href) + spy))
    site.wait(t="pv")
    page.click("#out")
    page.evaluate("ownstats('After click')")  # proves the click was handled before this
    site.wait(t="ev", n="After click")
    assert [b["n"] for b in site.beacons() if b["t"] == "ev"] == ["After click"]


# --- engagement ------------------------------------------------------------------


def test_engagement_sent_when_hidden_with_time_and_scroll_depth(site: Site, page: Any) -> None:
    page.goto(site.page("/article", body=TALL))
    [pv] = site.wait(t="pv")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(400)
    page.evaluate(HIDE)
    [en] = site.wait(t="en")
    assert en["id"] == pv["id"]
    assert en["u"] == f"{site.origin}/article"
    assert 300 <= int(en["e"]) < 5000
    assert en["sd"] == "100"


def test_engaged_time_counts_only_visible_time(site: Site, page: Any) -> None:
    page.goto(site.page("/", body=TALL))
    page.wait_for_timeout(200)
    page.evaluate(HIDE)
    site.wait(t="en")
    page.wait_for_timeout(800)  # hidden: must not count
    page.evaluate(SHOW)
    page.wait_for_timeout(200)
    page.evaluate(HIDE)
    first, second = site.wait(2, t="en")
    # Not scrolled: the first screen (700 px) of a ~5000 px page.
    assert first["sd"] == second["sd"] and 10 <= int(first["sd"]) <= 15
    assert int(second["e"]) < 700
    assert int(first["e"]) + int(second["e"]) >= 350


def test_engagement_sent_on_spa_navigation_for_the_previous_page(site: Site, page: Any) -> None:
    page.goto(site.page("/one"))
    [first] = site.wait(t="pv")
    page.wait_for_timeout(100)
    page.evaluate("history.pushState({}, '', '/two')")
    [en] = site.wait(t="en")
    assert (en["u"], en["id"]) == (first["u"], first["id"])
    second = site.wait(t="pv", u=f"{site.origin}/two")[0]
    assert second["id"] != first["id"]


def test_engagement_survives_leaving_the_page(site: Site, page: Any) -> None:
    page.goto(site.page("/leaving"))
    [pv] = site.wait(t="pv")
    page.wait_for_timeout(150)
    page.close()
    [en] = site.wait(t="en")
    assert en["id"] == pv["id"]


# --- never sent ------------------------------------------------------------------


def assert_silent(site: Site, page: Any) -> None:
    """The tracker ran (API present) and yet no beacon reached the collector."""
    page.evaluate("ownstats('Should not be sent')")
    page.evaluate("history.pushState({}, '', '/elsewhere')")
    assert page.evaluate("typeof ownstats") == "function"
    assert site.quiet() == []


@pytest.mark.parametrize(
    "init_script",
    [
        pytest.param(
            "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})", id="dnt"
        ),
        pytest.param(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})",
            id="gpc",
        ),
        pytest.param("localStorage.setItem('ownstats_ignore', 'true')", id="opt-out"),
    ],
)
def test_privacy_signals_send_nothing(site: Site, new_page: NewPage, init_script: str) -> None:
    page = new_page(init_script)
    page.goto(site.page("/"))
    assert_silent(site, page)


def test_opt_out_flag_must_be_exactly_true(site: Site, new_page: NewPage) -> None:
    page = new_page("localStorage.setItem('ownstats_ignore', 'false')")
    page.goto(site.page("/"))
    site.wait(t="pv")


def test_automation_sends_nothing(site: Site, new_page: NewPage) -> None:
    page = new_page(webdriver=True)  # Chromium's real navigator.webdriver === true
    page.goto(site.page("/"))
    assert page.evaluate("navigator.webdriver") is True
    assert_silent(site, page)


def test_prerendered_page_counts_only_once_shown(site: Site, new_page: NewPage) -> None:
    prerender = (
        "window.prerender = true;"
        "Object.defineProperty(Document.prototype, 'prerendering', {get: () => window.prerender})"
    )
    page = new_page(prerender)
    page.goto(site.page("/"))
    assert site.quiet(0.4) == []
    page.evaluate("prerender = false; document.dispatchEvent(new Event('prerenderingchange'))")
    site.wait(t="pv")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_localhost_sends_nothing_unless_allowed(site: Site, new_page: NewPage, host: str) -> None:
    local = Site(host=host, server=site.server, collector=site.collector)
    page = new_page()
    page.goto(local.page("/local/blocked"))
    page.evaluate("ownstats('Local event')")
    page.goto(local.page("/local/allowed", attrs="data-allow-localhost"))
    local.wait(t="pv", u=f"{local.origin}/local/allowed")
    paths = {urlsplit(b["u"]).path for b in local.quiet(0.3)}
    assert paths == {"/local/allowed"}


def test_file_protocol_sends_nothing(site: Site, page: Any, tmp_path: Any) -> None:
    html = tmp_path / "page.html"
    html.write_text(
        f'<!doctype html><script defer src="{site.collector.origin}/hello.js"'
        " data-allow-localhost></script>"
    )
    before = len([h for h in site.collector.hits if h.path == "/hello.gif"])
    page.goto(html.as_uri())
    page.wait_for_function("typeof ownstats == 'function'")
    time.sleep(0.5)
    after = len([h for h in site.collector.hits if h.path == "/hello.gif"])
    assert after == before


def test_writes_no_cookie_and_no_storage(site: Site, page: Any) -> None:
    site.raw("/files/a.zip", b"zip", "text/plain")
    body = TALL + '<a id="dl" href="/files/a.zip">zip</a>'
    page.goto(site.page("/", body=body))
    page.evaluate("ownstats('Hello', {props: {a: 'b'}})")
    page.evaluate("history.pushState({}, '', '/next')")
    page.evaluate(HIDE)
    site.wait(t="en")
    assert page.context.cookies() == []
    assert storage_used(page) == 0
    gif_headers = [h.headers for h in site.collector.gif_hits(site.host)]
    assert gif_headers
    assert not [h for h in gif_headers if "Cookie" in h]


def test_gif_decodes_as_one_pixel(site: Site, page: Any) -> None:
    page.goto(site.page("/"))
    size = page.evaluate(
        """src => new Promise(done => { const img = new Image();
           img.onload = () => done([img.naturalWidth, img.naturalHeight]);
           img.onerror = () => done(null); img.src = src })""",
        site.collector.origin + "/hello.gif",
    )
    assert size == [1, 1]

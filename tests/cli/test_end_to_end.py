"""The path of one page view, end to end, with nothing stubbed.

A real Chromium loads a page from one origin with ``hello.js`` from a running
``ownstats serve`` on another; the beacons go through the local collector, the
real-time log line, the processor and the Parquet lake, and come back out of the
views through ``ownstats query`` and the dashboard API. Every other suite checks
one of these hops; this one checks that they fit together.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from chromium import HIDE, NOT_WEBDRIVER, launch

from tests.cli.processes import CHROME, free_port, query, start, stop, wait_for_port

pytestmark = pytest.mark.browser

SITE = "shop.test"  # the allow-listed site
OTHER = "other.test"  # a site this deployment does not count
COLLECTOR = "stats.test"


class _Pages(BaseHTTPRequestHandler):
    """Every path is the same HTML page carrying the tracker."""

    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


Stack = tuple[int, int, Path, "subprocess.Popen[str]"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """``ownstats serve`` for SITE, and a web server for the site's pages."""
    port, data = free_port(), tmp_path / "lake"
    process = start("serve", "--port", str(port), "--data", str(data), "--domain", SITE)
    wait_for_port(port, process)
    _Pages.html = (
        "<!doctype html><html><head><meta charset=utf-8><title>shop</title>"
        "<script>window.ownstats = window.ownstats || function () "
        "{ (ownstats.q = ownstats.q || []).push(arguments) };</script>"
        f'<script defer src="http://{COLLECTOR}:{port}/hello.js"></script>'
        '</head><body><div style="height:3000px">products</div></body></html>'
    ).encode()
    site = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        yield port, site.server_address[1], data, process
    finally:
        site.shutdown()
        site.server_close()
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_for_rows(data: Path, sql: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = query(data, sql)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def not_near_midnight(margin_s: float = 60) -> None:
    """Wait out the last minute of a UTC day: the visit must fall on one `event_date`."""
    left = 86400 - time.time() % 86400
    if left < margin_s:
        time.sleep(left + 1)


def test_a_visit_in_chromium_comes_out_of_the_views(pw: Any, stack: Stack) -> None:
    port, site_port, data, process = stack
    not_near_midnight()
    browser = launch(
        pw,
        f"--host-resolver-rules=MAP {SITE} 127.0.0.1, MAP {OTHER} 127.0.0.1, "
        f"MAP {COLLECTOR} 127.0.0.1",
    )
    try:
        context = browser.new_context(
            user_agent=CHROME,  # headless Chromium's own UA is (rightly) dropped as a bot
            viewport={"width": 1200, "height": 800},
            screen={"width": 1920, "height": 1080},
            locale="de-DE",
            timezone_id="Europe/Berlin",
        )
        context.add_init_script(NOT_WEBDRIVER)
        page = context.new_page()
        page.goto(
            f"http://{SITE}:{site_port}/pricing?utm_source=newsletter&utm_campaign=spring"
            "&email=alice%40example.com",
            referer="https://news.ycombinator.com/item?id=42",
        )
        page.evaluate("ownstats('Signup', {props: {plan: 'pro', seats: 3}})")
        page.evaluate("history.pushState({}, '', '/checkout?step=2')")
        page.wait_for_timeout(300)
        page.evaluate(HIDE)
        # a site this deployment does not count: its beacons are rejected, not stored
        other = context.new_page()
        other.goto(f"http://{OTHER}:{site_port}/")
        other.wait_for_timeout(300)
        context.close()
    finally:
        browser.close()

    events = wait_for_rows(
        data,
        "SELECT event_type, event_name, props, domain_name, page_path, referrer_domain, "
        "source, channel, utm_source, utm_campaign, browser_name, os_name, device_type, "
        "screen_width, screen_height, viewport_width, language, timezone, engagement_ms, "
        "visitor_id FROM events ORDER BY event_time, event_type",
        count=5,
    )
    kinds = sorted((e["event_type"], e["page_path"]) for e in events)
    assert kinds == [
        ("engagement", "/checkout"),
        ("engagement", "/pricing"),
        ("event", "/pricing"),
        ("pageview", "/checkout"),
        ("pageview", "/pricing"),
    ]
    assert {e["domain_name"] for e in events} == {SITE}
    assert len({e["visitor_id"] for e in events}) == 1
    landing = next(
        e for e in events if e["event_type"] == "pageview" and e["page_path"] == "/pricing"
    )
    assert landing["referrer_domain"] == "news.ycombinator.com"
    # utm_source wins over the referrer, named as the dashboard shows it
    assert (landing["source"], landing["utm_source"], landing["utm_campaign"]) == (
        "Newsletter",
        "newsletter",
        "spring",
    )
    assert (landing["browser_name"], landing["os_name"], landing["device_type"]) == (
        "Chrome",
        "Windows",
        "desktop",
    )
    assert (landing["screen_width"], landing["screen_height"], landing["viewport_width"]) == (
        1920,
        1080,
        1200,
    )
    assert (landing["language"], landing["timezone"]) == ("de-DE", "Europe/Berlin")
    [signup] = [e for e in events if e["event_type"] == "event"]
    assert signup["event_name"] == "Signup"
    assert dict(signup["props"]) == {"plan": "pro", "seats": "3"}
    assert all(e["engagement_ms"] > 0 for e in events if e["event_type"] == "engagement")
    stored = json.dumps(events)
    assert "alice" not in stored and "step=2" not in stored and "id=42" not in stored

    [day] = query(data, f"SELECT * FROM daily_stats WHERE domain_name = '{SITE}'")
    assert (day["visitors"], day["visits"], day["pageviews"], day["bounce_rate"]) == (1, 1, 2, 0)
    [visit] = query(data, "SELECT entry_page, exit_page, source, pageviews, events FROM sessions")
    assert (visit["entry_page"], visit["exit_page"], visit["source"]) == (
        "/pricing",
        "/checkout",
        "Newsletter",
    )
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/api/summary?site={SITE}&period=today", timeout=10
    ) as response:
        summary = json.load(response)
    assert summary["metrics"]["visitors"]["value"] == 1
    assert summary["metrics"]["pageviews"]["value"] == 2

    code, out, err = stop(process)
    assert code == 0, err
    assert "stopped: 5 events stored" in out
    assert "foreign_domain" in out  # other.test's beacons: counted, not stored

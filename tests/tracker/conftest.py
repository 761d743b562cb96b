"""Fixtures for the tracker tests: a real Chromium, a site origin, a collector origin.

The tracker is exercised the way it runs in production: the page lives on one
origin (``http://<test>.site.test:PORT``), ``hello.js`` and ``hello.gif`` on
another (``http://collector.test:PORT2``), and every assertion is made on the
``/hello.gif`` requests the collector actually received. Each test gets its own
site hostname, so a late beacon from an earlier test (an engagement beacon sent
while its page closes) can never be mistaken for one of ours.

One browser per session keeps the suite fast; each test gets a fresh context
(no cookies, no storage) so "the tracker writes nothing" is observable.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from chromium import NOT_WEBDRIVER, launch

from ownstats.collector import GIF_HEADERS
from tracker import DIST_JS, GIF

SITE_DOMAIN = "site.test"
COLLECTOR_HOST = "collector.test"
VIEWPORT = {"width": 1000, "height": 700}
SCREEN = {"width": 1920, "height": 1080}
LOCALE = "de-DE"
TIMEZONE = "Europe/Berlin"


# The queue stub sites paste before the tracker (docs/TRACKER.md).
QUEUE_STUB = (
    "window.ownstats = window.ownstats || function () "
    "{ (ownstats.q = ownstats.q || []).push(arguments) };"
)

Beacon = dict[str, str]


@dataclass
class Hit:
    """One request the collector received."""

    path: str
    query: str
    headers: dict[str, str]
    at: float

    @property
    def params(self) -> Beacon:
        """The beacon parameters; repeated keys would show up as a test failure."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass
class Collector:
    """Records every request to the collector origin, in arrival order."""

    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def origin(self) -> str:
        """Where hello.js and hello.gif are served from."""
        return f"http://{COLLECTOR_HOST}:{self.port}"

    def record(self, hit: Hit) -> None:
        """Store a hit and wake any waiter."""
        with self.changed:
            self.hits.append(hit)
            self.changed.notify_all()

    def gif_hits(self, host: str) -> list[Hit]:
        """The ``/hello.gif`` requests whose page URL ``u`` is on ``host``."""
        with self.changed:
            hits = [hit for hit in self.hits if hit.path == "/hello.gif"]
        return [hit for hit in hits if urlsplit(hit.params.get("u", "")).hostname == host]


class _CollectorHandler(BaseHTTPRequestHandler):
    """Serves the built tracker, answers beacons with the GIF, logs everything."""

    collector: Collector

    def do_GET(self) -> None:
        """hello.js, hello.gif, or a plain landing page for outbound links."""
        parts = urlsplit(self.path)
        self.collector.record(
            Hit(path=parts.path, query=parts.query, headers=dict(self.headers), at=time.monotonic())
        )
        if parts.path == "/hello.js":
            # Read per request: the suite always tests the committed build.
            self._send(200, "text/javascript; charset=utf-8", DIST_JS.read_bytes())
        elif parts.path == "/hello.gif":
            # The headers `ownstats serve` sends (CloudFront's policy sends the same CORS header).
            self._send(200, "image/gif", GIF.read_bytes(), GIF_HEADERS)
        else:
            self._send(200, "text/html; charset=utf-8", b"<!doctype html><title>landing</title>")

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {"Cache-Control": "no-store"}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the hits list is the log."""


@dataclass
class SiteServer:
    """Serves per-test pages, keyed by (hostname, path)."""

    port: int = 0
    pages: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)


class _SiteHandler(BaseHTTPRequestHandler):
    """Looks the page up by Host header and path; the query string is ignored."""

    site: SiteServer

    def do_GET(self) -> None:
        """The registered page, or 404."""
        host = (self.headers.get("Host") or "").split(":")[0]
        found = self.site.pages.get((host, urlsplit(self.path).path))
        status, (content_type, body) = (200, found) if found else (404, ("text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _QuietServer(ThreadingHTTPServer):
    """A browser closing a page mid-response is normal here, not an error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore dropped connections; report anything else as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    """The collector origin, shared by the session (tests filter by their host)."""
    if not DIST_JS.exists():
        pytest.fail("tracker/dist/hello.js is missing: run `python -m tracker.build`")
    state = Collector()
    handler = type("Handler", (_CollectorHandler,), {"collector": state})
    server = _serve(handler)
    state.port = server.server_address[1]
    yield state
    server.shutdown()


@pytest.fixture(scope="session")
def site_server() -> Iterator[SiteServer]:
    """The site origin for every ``*.site.test`` host (and localhost)."""
    state = SiteServer()
    handler = type("Handler", (_SiteHandler,), {"site": state})
    server = _serve(handler)
    state.port = server.server_address[1]
    yield state
    server.shutdown()


@pytest.fixture(scope="session")
def browser(pw: Any) -> Iterator[Any]:
    """Debian's Chromium, launched once per session (per xdist worker)."""
    browser = launch(
        pw,
        f"--host-resolver-rules=MAP {SITE_DOMAIN} 127.0.0.1, "
        f"MAP *.{SITE_DOMAIN} 127.0.0.1, MAP {COLLECTOR_HOST} 127.0.0.1",
    )
    yield browser
    browser.close()


_site_numbers = itertools.count(1)


@dataclass
class Site:
    """One test's website: its own hostname, its pages, its beacons."""

    host: str
    server: SiteServer
    collector: Collector

    @property
    def origin(self) -> str:
        """``http://tN.site.test:PORT``."""
        return f"http://{self.host}:{self.server.port}"

    def page(
        self, path: str, *, attrs: str = "", head: str = "", body: str = "", stub: bool = True
    ) -> str:
        """Register an HTML page carrying the tracker; returns its URL."""
        html = (
            "<!doctype html><html><head><meta charset=utf-8><title>test page</title>"
            + (f"<script>{QUEUE_STUB}</script>" if stub else "")
            + head
            + f'<script defer src="{self.collector.origin}/hello.js" {attrs}></script>'
            + f"</head><body>{body}</body></html>"
        )
        return self.raw(path, html.encode())

    def raw(self, path: str, content: bytes, content_type: str = "text/html; charset=utf-8") -> str:
        """Register any response at ``path`` on this site; returns its URL."""
        self.server.pages[(self.host, path)] = (content_type, content)
        return self.origin + path

    def beacons(self) -> list[Beacon]:
        """Every beacon received so far for this site, in arrival order."""
        return [hit.params for hit in self.collector.gif_hits(self.host)]

    def wait(self, count: int = 1, timeout: float = 5.0, **match: str) -> list[Beacon]:
        """Wait until at least ``count`` beacons matching ``match`` arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.collector.changed:
            while True:
                found = [b for b in self.beacons() if _matches(b, match)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} beacon(s) matching {match}, got {found}; "
                        f"all beacons for {self.host}: {self.beacons()}"
                    )
                self.collector.changed.wait(left)

    def quiet(self, seconds: float = 0.6) -> list[Beacon]:
        """Let in-flight beacons land, then return everything received."""
        time.sleep(seconds)
        return self.beacons()


def _matches(beacon: Beacon, match: dict[str, str]) -> bool:
    return all(beacon.get(key) == value for key, value in match.items())


@pytest.fixture
def site(site_server: SiteServer, collector: Collector) -> Site:
    """A fresh hostname for this test, e.g. ``t7.site.test``."""
    return Site(
        host=f"t{next(_site_numbers)}.{SITE_DOMAIN}", server=site_server, collector=collector
    )


NewPage = Callable[..., Any]


@pytest.fixture
def new_page(browser: Any) -> Iterator[NewPage]:
    """Factory: a page in a fresh context; ``webdriver=True`` keeps Chromium's real flag."""
    contexts: list[Any] = []

    def make(*init_scripts: str, webdriver: bool = False) -> Any:
        context = browser.new_context(
            viewport=VIEWPORT, screen=SCREEN, locale=LOCALE, timezone_id=TIMEZONE
        )
        if not webdriver:
            context.add_init_script(NOT_WEBDRIVER)
        for script in init_scripts:
            context.add_init_script(script)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: NewPage) -> Any:
    """A page posing as a normal (non-automated) browser."""
    return new_page()

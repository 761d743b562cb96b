"""Fixtures for the dashboard tests: a generated lake, the app over it, a live server.

The lake is built the way production data arrives: realistic CloudFront real-time log
lines (``ownstats.traffic``) through the real processor into ``LakeSink``. Its window
is fixed (two weeks of March 2026) and the app's "today" is pinned to its last day, so
relative periods (7 days, 30 days) are deterministic; the clock-based current-visitors
view is tested by writing events stamped "now".
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

# importlib mode puts no test folder on sys.path; the tests import dashboard_support
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from chromium import launch
from dashboard_support import DOMAINS, FIRST_DAY, LAST_DAY, NOW, VISITS, Lake, epoch
from starlette.testclient import TestClient

from ownstats.dashboard import build_app
from ownstats.engine import Engine


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("dashboard-lake"))
    lake.add(DOMAINS, epoch(FIRST_DAY), epoch(LAST_DAY + timedelta(days=1)), VISITS, seed=7)
    lake.add_hostile_visits(DOMAINS[0], LAST_DAY)
    lake.add_duplicates(FIRST_DAY + timedelta(days=5), rows=400)
    return lake


@pytest.fixture(scope="session")
def engine(lake: Lake) -> Iterator[Engine]:
    with Engine(lake.data_dir) as eng:
        yield eng


@pytest.fixture(scope="session")
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(build_app(engine, today=lambda: LAST_DAY)) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[str]:
    """The dashboard on uvicorn (127.0.0.1, a free port), in a thread; yields its URL."""
    # "now" mid-afternoon of the lake's last day: today is partial, so the page
    # shows the running hour dotted and compares with yesterday until 14:30
    yield from _serve(build_app(engine, now=lambda: NOW, parallel=True))


@pytest.fixture(scope="session")
def zoned_server(engine: Engine) -> Iterator[str]:
    """The same dashboard with the sites on Kolkata's clock (UTC+05:30)."""
    yield from _serve(
        build_app(engine, now=lambda: NOW, parallel=True, time_zone="Asia/Kolkata")
    )


@pytest.fixture(scope="session")
def archive_server(engine: Engine) -> Iterator[str]:
    """The same dashboard on a stack without the stream (-c realtime=false)."""
    yield from _serve(build_app(engine, now=lambda: NOW, parallel=True, archive_input=True))


@pytest.fixture(scope="session")
def funnel_server(engine: Engine) -> Iterator[str]:
    """The same dashboard with two funnels defined."""
    from ownstats.dashboard.funnels import Funnel

    funnels = [Funnel("Signup", ("/", "/pricing", "goal:Signup")),
               Funnel("Reading", ("/", "/blog/*", "/docs/**"))]  # fmt: skip
    yield from _serve(build_app(engine, now=lambda: NOW, parallel=True, funnels=lambda: funnels))


def _serve(app: Any) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser(pw: Any) -> Iterator[Any]:
    chromium = launch(pw)
    yield chromium
    chromium.close()


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions a page produced."""

    messages: list[str]


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, PageErrors]]:
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the page's CSP
    # (rightly) forbids; test_page_runs_under_its_csp loads the page without the bypass
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, accept_downloads=True, bypass_csp=True
    )
    pg = context.new_page()
    errors = PageErrors([])
    pg.on(
        "console",
        lambda msg: errors.messages.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    pg.on("pageerror", lambda exc: errors.messages.append(f"pageerror: {exc}"))
    yield pg, errors
    context.close()

"""Sign-in, reload, expiry and sign-out of the hosted page, in Debian's Chromium.

The real page (index.html with auth.js inserted, app.js, app.css, under the deployed
Content-Security-Policy) talks to two local stand-ins on different origins, as in AWS:

- "Cognito" (``Idp``): /oauth2/authorize shows a sign-in link unless its session
  cookie is set (then it redirects at once, like managed login), /oauth2/token checks
  the PKCE verifier and issues an opaque access token, /logout clears the session;
- "CloudFront" (``site``): the page, its config, and the hosted dashboard API, which
  answers only requests bearing a token the stand-in issued (401 otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlencode, urlsplit

import pytest
import sqlglot
import uvicorn
from chromium import launch
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from cdk.dashboard_page import CSP, STATIC_DIR, hosted_index_html
from ownstats.dashboard.hosted import build_hosted_app
from ownstats.results import QueryResult

pytestmark = pytest.mark.browser

SITE = "example.com"
CLIENT_ID = "stand-in-client"
SESSION_COOKIE = "idp_session"


class OneSiteLake:
    """A backend with one site and no events yet: every panel answers zeros."""

    def query(self, sql: str) -> QueryResult:
        columns = sqlglot.parse_one(sql, read="athena").named_selects
        if sql.startswith("SELECT domain_name") and "GROUP BY domain_name" in sql:
            values = tuple(
                SITE if c == "domain_name" else date.today().isoformat() for c in columns
            )
            return QueryResult(columns, [values])
        return QueryResult(columns, [])


class HourlyLake(OneSiteLake):
    """The same, for a site too big for the function to read today's events: its data
    stands at the last whole hour the compactor rolled up (``LakeBackend.as_of``)."""

    def as_of(self, now: datetime) -> datetime:
        return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


@dataclass
class Idp:
    """The stand-in's state, which the tests read and change (revoking tokens)."""

    lake: Any = field(default_factory=OneSiteLake)
    site: str = ""
    origin: str = ""
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → challenge, uri
    tokens: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    forms_shown: int = 0
    issued: list[str] = field(default_factory=list)
    api_ok: int = 0
    api_refused: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)

    # -- "Cognito" ---------------------------------------------------------------------

    def _redirect_with_code(self, query: dict[str, str]) -> Response:
        code = secrets.token_urlsafe(16)
        self.codes[code] = (query["code_challenge"], query["redirect_uri"])
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return RedirectResponse(target, status_code=302)

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.check(query.get("response_type") == "code", f"response_type {query}")
        self.check(query.get("client_id") == CLIENT_ID, f"client_id {query}")
        self.check(query.get("redirect_uri") == self.site + "/", f"redirect_uri {query}")
        self.check(query.get("code_challenge_method") == "S256", f"no PKCE {query}")
        self.check(len(query.get("state", "")) >= 32, f"weak state {query}")
        if request.cookies.get(SESSION_COOKIE) in self.sessions:
            return self._redirect_with_code(query)  # signed in here already: no form
        self.forms_shown += 1
        link = f"/login?{urlencode(query)}"
        return HTMLResponse(f'<!doctype html><title>Sign in</title><a id="sign-in" href="{link}">'
                            "Sign in</a>")  # fmt: skip

    async def login(self, request: Request) -> Response:
        session = secrets.token_urlsafe(16)
        self.sessions.add(session)
        response = self._redirect_with_code(dict(request.query_params))
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
        return response

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        challenge, uri = self.codes.pop(form.get("code", ""), ("", ""))
        verifier = form.get("code_verifier", "")
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        cors = {"Access-Control-Allow-Origin": self.site}
        if (
            form.get("grant_type") != "authorization_code"
            or form.get("client_id") != CLIENT_ID
            or not challenge
            or expected.rstrip(b"=").decode() != challenge
            or form.get("redirect_uri") != uri
        ):
            self.problems.append(f"token request refused: {form}")
            return JSONResponse({"error": "invalid_grant"}, status_code=400, headers=cors)
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        self.issued.append(token)
        body = {"access_token": token, "id_token": "x", "token_type": "Bearer", "expires_in": 3600}
        return JSONResponse(body, headers=cors)

    async def logout(self, request: Request) -> Response:
        self.check(request.query_params.get("client_id") == CLIENT_ID, "logout client_id")
        self.check(request.query_params.get("logout_uri") == self.site + "/", "logout_uri")
        self.sessions.discard(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse(request.query_params["logout_uri"], status_code=302)
        response.delete_cookie(SESSION_COOKIE)
        return response

    def idp_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth2/authorize", self.authorize),
                Route("/login", self.login),
                Route("/oauth2/token", self.token, methods=["POST"]),
                Route("/logout", self.logout),
            ]
        )

    # -- "CloudFront": page + API ------------------------------------------------------

    def site_app(self) -> Any:
        html = hosted_index_html((STATIC_DIR / "index.html").read_text())

        async def index(request: Request) -> Response:
            return HTMLResponse(html, headers={"Content-Security-Policy": CSP.format(
                login=self.origin), "Cache-Control": "no-cache"})  # fmt: skip

        async def config(request: Request) -> Response:
            settings = {"authority": self.origin, "clientId": CLIENT_ID,
                        "redirectUri": self.site + "/", "scopes": "openid email"}  # fmt: skip
            return JSONResponse(settings)

        page = Starlette(
            routes=[
                Route("/", index),
                Route("/_dash/hosted-config.json", config),
                Mount("/_dash", app=StaticFiles(directory=STATIC_DIR)),
            ]
        )
        api = build_hosted_app(self.lake, [SITE], require_claims=False, cache_ttl_s=0)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/api/"):
                headers = dict(scope["headers"])
                bearer = headers.get(b"authorization", b"").decode()
                if bearer.removeprefix("Bearer ") not in self.tokens:
                    self.api_refused += 1
                    await JSONResponse({"message": "Unauthorized"}, status_code=401)(
                        scope, receive, send
                    )
                    return
                self.api_ok += 1
                await api(scope, receive, send)
                return
            await page(scope, receive, send)

        return app


def _serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def idp(request: pytest.FixtureRequest) -> Iterator[Idp]:
    state = Idp(lake=getattr(request, "param", OneSiteLake)())
    servers = []
    # two origins, as CloudFront and Cognito are; the page knows both before it loads
    state.origin, *rest = _serve(state.idp_app())
    servers.append(rest)
    state.site, *rest = _serve(state.site_app())
    servers.append(rest)
    yield state
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def errors() -> list[str]:
    """Uncaught exceptions of the page."""
    return []


@pytest.fixture
def page(pw: Any, errors: list[str]) -> Iterator[Any]:
    browser = launch(pw)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    browser.close()


def _signed_in(page: Any, idp: Idp) -> None:
    """Wait until the dashboard shows the site (its first API answers arrived)."""
    page.wait_for_selector("#sign-out", timeout=10_000)
    page.wait_for_selector(f"#site option[value='{SITE}']", state="attached", timeout=10_000)
    page.wait_for_load_state("networkidle")


def _view(page: Any, idp: Idp) -> dict[str, list[str]]:
    """The dashboard's own URL state; never a code or a state from the sign-in round trip."""
    url = urlsplit(page.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == idp.site + "/"
    query = parse_qs(url.query)
    assert not {"code", "state", "error"} & set(query), page.url
    return query


def _storage(page: Any) -> str:
    return json.dumps(page.evaluate("() => [{...localStorage}, {...sessionStorage}]"))


def test_sign_in_reload_expiry_and_sign_out(page: Any, idp: Idp, errors: list[str]) -> None:
    # 1. first visit: sent to the sign-in page, with PKCE and a state
    page.goto(idp.site + "/")
    page.wait_for_url(f"{idp.origin}/oauth2/authorize?*")
    assert page.locator("#sign-in").is_visible() and idp.forms_shown == 1

    # 2. signing in brings the dashboard back, the code gone from the address bar
    page.click("#sign-in")
    _signed_in(page, idp)
    assert _view(page, idp)["site"] == [SITE]
    assert idp.api_ok > 0 and idp.api_refused == 0  # every API call carried the token
    # the page says how fresh its figures are (when the API last read the data)
    freshness = page.locator("#freshness")
    freshness.wait_for(state="visible", timeout=10_000)
    first = freshness.text_content() or ""
    assert first.startswith("· updated ") and first.endswith(" s ago"), first
    page.wait_for_timeout(2100)  # it ticks every second between reads
    assert int((freshness.text_content() or "").split()[2]) >= int(first.split()[2]) + 1
    (token,) = idp.issued
    stored = _storage(page)
    assert token not in stored and "code" not in json.loads(stored)[1]  # memory only

    # 3. a reload signs in again silently (the sign-in service's session cookie)
    page.reload()
    _signed_in(page, idp)
    assert idp.forms_shown == 1 and len(idp.issued) == 2
    assert _view(page, idp)["site"] == [SITE]

    # 4. the token expires (revoked here): the next API answer is a 401, and the page goes
    # back through sign-in — silently while that session lasts — to the same view. (A
    # back/forward step makes the page ask the API again; polled from Python because
    # the page's CSP forbids wait_for_function's string functions.)
    idp.tokens.clear()
    refused = idp.api_refused
    page.evaluate(
        "() => { history.pushState(null, '', '/?period=7d');"
        " dispatchEvent(new PopStateEvent('popstate')); }"
    )
    deadline = time.monotonic() + 10
    while len(idp.issued) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    _signed_in(page, idp)
    assert idp.api_refused > refused and len(idp.issued) == 3 and idp.forms_shown == 1
    assert _view(page, idp)["period"] == ["7d"]

    # 5. expired with the sign-in session gone too: the sign-in page, not a broken page
    idp.tokens.clear()
    idp.sessions.clear()
    page.evaluate(
        "() => { history.pushState(null, '', '/?period=30d');"
        " dispatchEvent(new PopStateEvent('popstate')); }"
    )
    page.wait_for_url(f"{idp.origin}/oauth2/authorize?*")
    assert page.locator("#sign-in").is_visible() and idp.forms_shown == 2
    page.click("#sign-in")
    _signed_in(page, idp)
    assert _view(page, idp)["period"] == ["30d"]

    # 6. sign out: the sign-in service forgets the session, the page asks to sign in
    page.click("#sign-out")
    page.wait_for_url(f"{idp.origin}/oauth2/authorize?*")
    assert page.locator("#sign-in").is_visible() and idp.forms_shown == 3
    assert idp.sessions == set()

    assert idp.problems == []
    assert errors == []


def test_a_forged_callback_is_not_accepted(page: Any, idp: Idp) -> None:
    # a link carrying someone else's code (no matching state in this tab) starts a
    # fresh sign-in instead of exchanging it
    page.goto(f"{idp.site}/?code=stolen&state=not-ours")
    page.wait_for_url(f"{idp.origin}/oauth2/authorize?*")
    assert idp.issued == [] and idp.problems == []


def test_a_forged_error_callback_shows_none_of_its_text(page: Any, idp: Idp) -> None:
    # anyone can send a link with error_description: it must never reach the page
    text = "Your account is locked. Call support at 555-0100"
    page.goto(f"{idp.site}/?state=forged&error=access_denied&error_description={quote(text)}")
    page.wait_for_url(f"{idp.origin}/oauth2/authorize?*")  # state checked first
    assert "555-0100" not in page.content() and idp.issued == []


def test_a_real_error_answer_shows_a_fixed_message(page: Any, idp: Idp) -> None:
    page.goto(idp.site + "/")
    page.wait_for_url(f"{idp.origin}/oauth2/authorize?*")
    state = parse_qs(urlsplit(page.url).query)["state"][0]
    page.goto(
        f"{idp.site}/?state={state}&error=access_denied&error_description="
        + quote("Call 555-0100 now")
    )
    page.wait_for_selector("#error:not([hidden])")
    shown = page.locator("#error").inner_text()
    assert "access was denied" in shown and "555-0100" not in shown


@pytest.mark.parametrize("idp", [HourlyLake], indirect=True)
def test_a_page_shown_as_of_an_earlier_hour_says_so(page: Any, idp: Idp, errors: list[str]) -> None:
    """At ~50 M page views a month the figures stand at the last whole hour rolled up:
    the label says "as of 13:00 UTC", not "updated N s ago" (the live counter stays
    live)."""
    page.goto(idp.site + "/")
    page.wait_for_url(f"{idp.origin}/oauth2/authorize?*")
    page.click("#sign-in")
    _signed_in(page, idp)
    freshness = page.locator("#freshness")
    freshness.wait_for(state="visible", timeout=10_000)
    deadline = time.monotonic() + 10  # (the label ticks every second; the cards may come later)
    while not (text := freshness.text_content() or "").startswith("· as of "):
        assert time.monotonic() < deadline, text
        page.wait_for_timeout(200)
    assert text.endswith(":00 UTC"), text
    assert errors == []

"""Funnels: steps in order within a visit, counted by the dashboard's SQL and, here,
independently in Python from the same lake's visits and events."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import DOMAINS, FIRST_DAY, LAST_DAY
from starlette.testclient import TestClient

from ownstats.dashboard import build_app
from ownstats.dashboard.api_keys import KeyStore
from ownstats.dashboard.funnels import Funnel, FunnelError, FunnelStore, checked, page_regex
from ownstats.engine import Engine

SITE = DOMAINS[0]
SIGNUP = ["/", "/pricing", "goal:Signup"]
READING = ["/", "/blog/*", "/docs/**"]
#: each step as the test's own predicate (no shared code with funnels.py)
PREDICATES = {
    "/": lambda e: e["event_type"] == "pageview" and e["page_path"] == "/",
    "/pricing": lambda e: e["event_type"] == "pageview" and e["page_path"] == "/pricing",
    "/signup": lambda e: e["event_type"] == "pageview" and e["page_path"] == "/signup",
    "goal:Signup": lambda e: e["event_type"] == "event" and e["event_name"] == "Signup",
    "/blog/*": lambda e: e["event_type"] == "pageview"
    and re.fullmatch(r"/blog/[^/]*", e["page_path"]) is not None,
    "/docs/**": lambda e: e["event_type"] == "pageview"
    and e["page_path"].startswith("/docs/"),
}


def q(**params: Any) -> dict[str, Any]:
    return {"site": SITE, "period": "custom", "from": FIRST_DAY.isoformat(),
            "to": LAST_DAY.isoformat(), **params}  # fmt: skip


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore(tmp_path_factory.mktemp("keys"), hourly_limit=10**6)


@pytest.fixture(scope="module")
def app(engine: Engine, keys: KeyStore) -> Iterator[TestClient]:
    defined = [Funnel("Signup", tuple(SIGNUP)), Funnel("Reading", tuple(READING))]
    application = build_app(engine, today=lambda: LAST_DAY, api_keys=keys,
                            funnels=lambda: defined)  # fmt: skip
    with TestClient(application) as client:
        yield client


def expected(engine: Engine, steps: list[str], source: str | None = None) -> list[int]:
    """Visitors per step: the visits' events in time order, each step the first matching
    event after the previous step's (a visitor counted once per day)."""
    where = (
        f"domain_name = '{SITE}' AND event_date BETWEEN '{FIRST_DAY.isoformat()}' "
        f"AND '{LAST_DAY.isoformat()}'"
    )
    visits = engine.query(
        "SELECT event_date, visitor_id, session_start, session_end, source FROM sessions "
        f"WHERE {where}"
    ).as_dicts()
    events: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in engine.query(
        "SELECT event_date, visitor_id, event_time, event_type, page_path, event_name "
        f"FROM events_deduped WHERE {where} ORDER BY event_time"
    ).as_dicts():
        events[(event["event_date"], event["visitor_id"])].append(event)
    reached: list[set[tuple[str, str]]] = [set() for _ in steps]
    for visit in visits:
        if source is not None and visit["source"] != source:
            continue
        key = (visit["event_date"], visit["visitor_id"])
        mine = [e for e in events[key]
                if visit["session_start"] <= e["event_time"] <= visit["session_end"]]  # fmt: skip
        after = None
        for k, step in enumerate(steps):
            found = next((e for e in mine if PREDICATES[step](e)
                          and (after is None or e["event_time"] > after)), None)  # fmt: skip
            if found is None:
                break
            reached[k].add(key)
            after = found["event_time"]
    return [len(r) for r in reached]


def test_each_step_counts_visitors_who_took_the_steps_before_in_order(
    app: TestClient, engine: Engine
) -> None:
    for name, steps in (("Signup", SIGNUP), ("Reading", READING)):
        answer = app.get("/api/funnel", params=q(funnel=name))
        assert answer.status_code == 200, answer.text
        got = [s["visitors"] for s in answer.json()["steps"]]
        assert got == expected(engine, steps)
        assert got[0] > got[-1] > 0, "a funnel that proves ordering needs each step reached"
    # order matters: the same steps backwards are another funnel
    backwards = list(reversed(SIGNUP))
    assert expected(engine, backwards)[-1] < expected(engine, SIGNUP)[-1]


def test_drop_off_and_conversion(app: TestClient) -> None:
    steps = app.get("/api/funnel", params=q(funnel="Signup")).json()["steps"]
    first = steps[0]["visitors"]
    assert steps[0]["dropoff"] is None and steps[0]["conversion_rate"] == 1
    for before, step in itertools.pairwise(steps):
        assert step["dropoff"] == before["visitors"] - step["visitors"]
        assert step["dropoff_rate"] == pytest.approx(step["dropoff"] / before["visitors"])
        assert step["conversion_rate"] == pytest.approx(step["visitors"] / first)
    assert [s["label"] for s in steps] == SIGNUP


def test_filters_and_periods_apply(app: TestClient, engine: Engine) -> None:
    source = engine.query(
        f"SELECT source FROM sessions WHERE domain_name = '{SITE}' AND source IS NOT NULL "
        "GROUP BY source ORDER BY count(*) DESC LIMIT 1"
    ).rows[0][0]
    filtered = app.get("/api/funnel", params=q(funnel="Reading", source=source)).json()
    assert [s["visitors"] for s in filtered["steps"]] == expected(engine, READING, source)
    week = app.get("/api/funnel", params={"site": SITE, "period": "7d", "funnel": "Reading"})
    assert week.status_code == 200
    assert app.get("/api/funnel", params=q(funnel="Nope")).status_code == 400
    assert app.get("/api/sites").json()["funnels"][0] == {"name": "Signup", "steps": SIGNUP}


def test_the_funnel_as_csv(app: TestClient) -> None:
    answer = app.get("/api/funnel", params=q(funnel="Signup", format="csv"))
    lines = answer.text.strip().splitlines()
    assert lines[0] == "step,label,visitors,dropoff,dropoff_rate,conversion_rate"
    assert len(lines) == 1 + len(SIGNUP) and lines[1].startswith("1,/,")


def test_the_stats_api_funnel(app: TestClient, keys: KeyStore, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {keys.create('funnels')}"}
    body = {"site_id": SITE, "date_range": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]}
    named = app.post("/api/v2/funnel", json={**body, "funnel": "Signup"}, headers=headers)
    assert named.status_code == 200, named.text
    assert "results" in named.json(), named.text
    visitors = [r["visitors"] for r in named.json()["results"]]
    assert visitors == expected(engine, SIGNUP)
    inline = app.post("/api/v2/funnel", json={**body, "steps": SIGNUP}, headers=headers)
    assert inline.status_code == 200, inline.text
    assert inline.json()["results"] == named.json()["results"]
    bad_bodies = [{**body}, {**body, "steps": ["/"]}, {**body, "steps": ["/a", "b"]},
                  {**body, "funnel": "Signup", "steps": SIGNUP}, {**body, "funnel": "x"}]
    for bad in bad_bodies:
        assert app.post("/api/v2/funnel", json=bad, headers=headers).status_code == 400


def test_page_patterns() -> None:
    pattern = re.compile(page_regex("/blog/*"))
    assert pattern.fullmatch("/blog/a") and pattern.fullmatch("/blog/")
    assert not pattern.fullmatch("/blog/a/b") and not pattern.fullmatch("/blogs/a")
    deep = re.compile(page_regex("/docs/**"))
    assert deep.fullmatch("/docs/a/b") and not deep.fullmatch("/doc")
    literal = re.compile(page_regex("/a.b(c)+[d]"))
    assert literal.fullmatch("/a.b(c)+[d]") and not literal.fullmatch("/aXb(c)+[d]")


@pytest.mark.parametrize(
    ("name", "steps"),
    [("", ["/a", "/b"]), ("x", ["/a"]), ("x", ["/a"] * 9), ("x", ["/a", "pricing"]),
     ("x", ["/a", "goal:"]), ("x", "/a /b"), ("\x00", ["/a", "/b"])],
)  # fmt: skip
def test_bad_funnels_are_refused(name: str, steps: Any) -> None:
    with pytest.raises(FunnelError):
        checked(name, steps)


def test_funnel_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ownstats.cli import main

    data = ["--data", str(tmp_path)]
    assert main(["funnel", "add", *data, "Signup", "/pricing", "goal:Signup"]) == 0
    assert main(["funnel", "add", *data, "Bad", "/pricing"]) == 2
    assert main(["funnel", "list", *data]) == 0
    assert "Signup: /pricing → goal:Signup" in capsys.readouterr().out
    assert FunnelStore(tmp_path).list() == [Funnel("Signup", ("/pricing", "goal:Signup"))]
    assert main(["funnel", "remove", *data, "Signup"]) == 0
    assert main(["funnel", "remove", *data, "Signup"]) == 1
    assert FunnelStore(tmp_path).list() == []

"""Filters as Plausible has them: several values, "is not", "contains", "does not
contain", and custom properties (``prop.plan=pro``), in the dashboard's API and the
Stats API.

Each figure is checked against an independent count: plain SQL over the ``sessions``
and ``events_deduped`` views, written here from the definition (a visit matches a page,
goal or property filter when it has such an event; "not" is a visit without one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_support import DOMAINS, FIRST_DAY, LAST_DAY, q
from starlette.testclient import TestClient

from ownstats.dashboard import build_app
from ownstats.dashboard.api_keys import KeyStore
from ownstats.dashboard.params import clause
from ownstats.dashboard.stats_api import _raw
from ownstats.engine import Engine

SITE = DOMAINS[0]
RANGE = (
    f"s.domain_name = '{SITE}' AND s.event_date BETWEEN '{FIRST_DAY.isoformat()}' "
    f"AND '{LAST_DAY.isoformat()}'"
)


def visitors_where(engine: Engine, condition: str) -> int:
    """Visitors (per day, as the dashboard counts them) of the visits matching."""
    sql = (
        "SELECT count(*) FROM (SELECT DISTINCT s.event_date, s.visitor_id FROM sessions AS s "
        f"WHERE {RANGE} AND ({condition})) AS t"
    )
    return int(engine.query(sql).rows[0][0])


def having(event_condition: str) -> str:
    """The visit has an event (alias x) matching."""
    return (
        "EXISTS (SELECT 1 FROM events_deduped AS x WHERE x.event_date = s.event_date "
        "AND x.domain_name = s.domain_name AND x.visitor_id = s.visitor_id "
        f"AND x.event_time BETWEEN s.session_start AND s.session_end AND {event_condition})"
    )


def cards(client: TestClient, **filters: str) -> dict[str, Any]:
    answer = client.get("/api/summary", params=q(comparison="off", **filters))
    assert answer.status_code == 200, answer.text
    return answer.json()["metrics"]


@pytest.fixture(scope="module")
def top(engine: Engine) -> dict[str, str]:
    """The site's most common source and page, and a word of its paths."""
    source = engine.query(
        f"SELECT source FROM sessions AS s WHERE {RANGE} AND source IS NOT NULL "
        "GROUP BY source ORDER BY count(*) DESC, source LIMIT 2"
    ).rows
    page = engine.query(
        f"SELECT page_path FROM events_deduped AS s WHERE {RANGE} AND event_type = 'pageview' "
        "GROUP BY page_path ORDER BY count(*) DESC, page_path LIMIT 1"
    ).rows[0][0]
    return {"source": source[0][0], "other": source[1][0], "page": page}


CASES = [
    # (filters, the independent condition on the visit s), with {source}, {other}, {page}
    ({"source": "{source}|{other}"}, "s.source IN ('{source}', '{other}')"),
    ({"source": "!{source}"}, "s.source IS NULL OR s.source <> '{source}'"),
    ({"source": "!{source}|{other}"},
     "s.source IS NULL OR s.source NOT IN ('{source}', '{other}')"),
    ({"source": "~" + "OO"}, "strpos(lower(s.source), 'oo') > 0"),
    ({"source": "!~oo"}, "s.source IS NULL OR strpos(lower(s.source), 'oo') = 0"),
    ({"country": "!(none)"}, "s.country_code IS NOT NULL"),
    ({"device": "mobile|tablet"}, "s.device_type IN ('mobile', 'tablet')"),
    ({"page": "~blog"}, "{has_blog}"),
    ({"page": "!~blog"}, "NOT {has_blog}"),
    ({"page": "!{page}"}, "NOT {has_page}"),
    ({"prop.plan": "pro"}, "{has_pro}"),
    ({"prop.plan": "pro|team"}, "{has_paid}"),
    ({"prop.plan": "!pro"}, "NOT {has_pro}"),
    ({"event": "Signup|Download"}, "{has_goal}"),
    ({"source": "!{source}", "prop.plan": "~t"}, "(s.source IS NULL OR s.source <> '{source}') "
     "AND {has_t}"),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "condition"), CASES)
def test_each_operator_counts_what_its_definition_says(
    client: TestClient, engine: Engine, top: dict[str, str], filters: dict[str, str],
    condition: str,
) -> None:  # fmt: skip
    parts = {
        **top,
        "has_blog": having("x.event_type = 'pageview' AND strpos(lower(x.page_path), 'blog') > 0"),
        "has_page": having(f"x.event_type = 'pageview' AND x.page_path = '{top['page']}'"),
        "has_pro": having("x.event_type <> 'engagement' AND element_at(x.props, 'plan') = 'pro'"),
        "has_paid": having("x.event_type <> 'engagement' AND "
                           "element_at(x.props, 'plan') IN ('pro', 'team')"),
        "has_t": having("x.event_type <> 'engagement' AND "
                        "strpos(lower(element_at(x.props, 'plan')), 't') > 0"),
        "has_goal": having("x.event_type = 'event' AND x.event_name IN ('Signup', 'Download')"),
    }  # fmt: skip
    asked = {name: value.format(**top) for name, value in filters.items()}
    expected = visitors_where(engine, condition.format(**parts))
    assert cards(client, **asked)["visitors"]["value"] == expected
    assert expected > 0, "a filter that matches nothing proves little"


def test_a_negation_and_its_filter_add_up_to_everyone(
    client: TestClient, top: dict[str, str]
) -> None:
    everyone = cards(client)["visits"]["value"]
    for name, value in (("source", top["source"]), ("page", "~blog"), ("prop.plan", "pro")):
        yes = cards(client, **{name: value})["visits"]["value"]
        no = cards(client, **{name: "!" + value})["visits"]["value"]
        assert yes + no == everyone and 0 < yes < everyone, name


def test_goal_conversions_under_a_property_filter(client: TestClient, engine: Engine) -> None:
    metrics = cards(client, event="Signup", **{"prop.plan": "pro"})
    signed_up = having("x.event_type = 'event' AND x.event_name = 'Signup'")
    pro = having("x.event_type <> 'engagement' AND element_at(x.props, 'plan') = 'pro'")
    converted = visitors_where(engine, f"{signed_up} AND {pro}")
    assert metrics["visitors"]["value"] == converted > 0
    assert 0 < metrics["conversion_rate"]["value"] <= 1
    # the property's breakdown lists each value under the goal, as before
    asked = {**q(), "prop_event": "Signup", "limit": 50}
    rows = client.get("/api/breakdown/event-props", params=asked).json()["rows"]
    assert {r["prop_key"] for r in rows} == {"plan"}
    assert {r["prop_value"] for r in rows} == {"free", "pro", "team"}


def test_panels_and_the_graph_take_the_new_filters(
    client: TestClient, top: dict[str, str]
) -> None:
    filters = {"source": f"!{top['source']}", "prop.plan": "pro|team"}
    total = cards(client, **filters)["visitors"]["value"]
    series = client.get("/api/timeseries", params=q(interval="day", **filters)).json()["points"]
    assert sum(p["visitors"] or 0 for p in series) == total
    countries = client.get("/api/breakdown/countries", params={**q(**filters), "limit": 300})
    assert sum(r["visitors"] for r in countries.json()["rows"]) == total
    sources = client.get("/api/breakdown/sources", params={**q(**filters), "limit": 300})
    assert top["source"] not in {r["source"] for r in sources.json()["rows"]}


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"event": "!Signup"}, "goal filter is 'is' or 'contains' only"),
        ({"source": "a||b"}, "empty value"),
        ({"source": "|".join(str(i) for i in range(21))}, "at most 20 values"),
        ({"prop.": "x"}, "property name"),
        ({f"prop.k{i}": "x" for i in range(6)}, "at most 5 property filters"),
        ({"prop.plan": ""}, "empty"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(
    client: TestClient, params: dict[str, str], says: str
) -> None:
    answer = client.get("/api/summary", params=q(**params))
    assert answer.status_code == 400 and says in answer.json()["error"], answer.text


def test_values_with_the_syntax_characters_round_trip() -> None:
    for op in ("is", "is_not", "contains", "contains_not"):
        for values in (["a"], ["!x", "~y"], ["a|b", "c\\d"], ["~"], ["\\"], ["!"]):
            parsed = clause(_raw(op, values))
            assert (parsed.op, list(parsed.values)) == (op, values)


@pytest.fixture(scope="module")
def stats_api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    keys = KeyStore(tmp_path_factory.mktemp("keys"), hourly_limit=10**6)
    key = keys.create("filters")
    with TestClient(build_app(engine, today=lambda: LAST_DAY, api_keys=keys)) as api:
        yield api, {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("v2", "dashboard"),
    [
        ([["is", "visit:source", ["{source}", "{other}"]]], {"source": "{source}|{other}"}),
        ([["is_not", "visit:source", ["{source}"]]], {"source": "!{source}"}),
        ([["contains", "event:page", ["blog"]]], {"page": "~blog"}),
        ([["contains_not", "event:page", ["blog"]]], {"page": "!~blog"}),
        ([["is", "event:props:plan", ["pro", "team"]]], {"prop.plan": "pro|team"}),
        ([["is_not", "event:props:plan", ["pro"]], ["is", "event:goal", ["Signup"]]],
         {"prop.plan": "!pro", "event": "Signup"}),
    ],
)  # fmt: skip
def test_the_stats_api_filters_equal_the_dashboards(
    stats_api: Any, client: TestClient, top: dict[str, str], v2: list[Any],
    dashboard: dict[str, str],
) -> None:  # fmt: skip
    api, headers = stats_api
    filled = [[f[0], f[1], [v.format(**top) for v in f[2]]] for f in v2]
    body = {"site_id": SITE, "metrics": ["visitors", "visits"], "filters": filled,
            "date_range": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]}  # fmt: skip
    answer = api.post("/api/v2/query", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    expected = cards(client, **{k: v.format(**top) for k, v in dashboard.items()})
    assert answer.json()["results"][0]["metrics"] == [
        expected["visitors"]["value"], expected["visits"]["value"]
    ]


# -- expressions: or, not, has_done, matches (the Stats API's ``where``) --------------------

TREES = [
    # (v2 filters, the independent condition on the visit s)
    ([["or", [["is", "visit:source", ["{source}"]], ["contains", "event:page", ["blog"]]]]],
     "s.source = '{source}' OR {has_blog}"),
    ([["not", ["is", "visit:source", ["{source}"]]]],
     "s.source IS NULL OR s.source <> '{source}'"),
    ([["not", ["or", [["is", "visit:source", ["{source}"]], ["is", "event:props:plan", ["pro"]]]]]],
     "NOT (s.source = '{source}' AND s.source IS NOT NULL) AND NOT {has_pro}"),
    ([["has_done", ["is", "event:goal", ["Signup"]]]], "{has_signup}"),
    ([["has_not_done", ["is", "event:goal", ["Signup"]]]], "NOT {has_signup}"),
    ([["has_done", ["is_not", "event:page", ["{page}"]]]], "{has_other_page}"),
    ([["matches", "event:page", ["^/blog/"]]], "{has_blog_prefix}"),
    ([["matches_not", "visit:source", ["^G"]]],
     "s.source IS NULL OR NOT regexp_like(s.source, '^G')"),
    ([["contains", "event:page", ["blog"]], ["is_not", "event:page", ["{page}"]]],
     "{has_blog} AND NOT {has_page}"),
    ([["is", "visit:source", ["{source}", "{other}"]],
      ["or", [["has_done", ["is", "event:goal", ["Signup"]]],
              ["is", "event:props:plan", ["pro"]]]]],
     "s.source IN ('{source}', '{other}') AND ({has_signup} OR {has_pro})"),
]  # fmt: skip


@pytest.mark.parametrize(("v2", "condition"), TREES)
def test_filter_expressions_count_what_their_definition_says(
    stats_api: Any, engine: Engine, top: dict[str, str], v2: list[Any], condition: str
) -> None:
    api, headers = stats_api
    parts = {
        **top,
        "has_blog": having("x.event_type = 'pageview' AND strpos(lower(x.page_path), 'blog') > 0"),
        "has_blog_prefix": having("x.event_type = 'pageview' AND x.page_path LIKE '/blog/%'"),
        "has_page": having(f"x.event_type = 'pageview' AND x.page_path = '{top['page']}'"),
        "has_other_page": having(f"x.event_type = 'pageview' AND x.page_path <> '{top['page']}'"),
        "has_pro": having("x.event_type <> 'engagement' AND element_at(x.props, 'plan') = 'pro'"),
        "has_signup": having("x.event_type = 'event' AND x.event_name = 'Signup'"),
    }  # fmt: skip
    text = json.dumps(v2).replace("{source}", top["source"]).replace("{other}", top["other"])
    filled = json.loads(text.replace("{page}", top["page"]))
    body = {"site_id": SITE, "metrics": ["visitors"], "filters": filled,
            "date_range": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]}  # fmt: skip
    answer = api.post("/api/v2/query", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    expected = visitors_where(engine, condition.format(**parts))
    assert answer.json()["results"][0]["metrics"] == [expected]
    assert expected > 0, "an expression that matches nothing proves little"
    # and the same expression breaks down and graphs to the same visitors
    by_day = {**body, "dimensions": ["time:day"]}
    days = api.post("/api/v2/query", json=by_day, headers=headers).json()["results"]
    assert sum(d["metrics"][0] for d in days) == expected


def test_an_expression_and_its_negation_add_up_to_everyone(
    stats_api: Any, top: dict[str, str]
) -> None:
    api, headers = stats_api
    expression = ["or", [["is", "visit:source", [top["source"]]],
                         ["has_done", ["matches", "event:page", ["blog"]]]]]  # fmt: skip

    def visits(filters: list[Any]) -> int:
        body = {"site_id": SITE, "metrics": ["visits"], "filters": filters,
                "date_range": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]}  # fmt: skip
        answer = api.post("/api/v2/query", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["results"][0]["metrics"][0])

    yes, no, everyone = visits([expression]), visits([["not", expression]]), visits([])
    assert yes + no == everyone and 0 < yes < everyone


def test_the_dashboard_takes_an_expression_too(client: TestClient, top: dict[str, str]) -> None:
    """``where`` is one more filter of the dashboard's API: the cards, panels and graph
    all read it."""
    where = json.dumps(["or", [["is", "source", [top["source"]]], ["is", "prop.plan", ["pro"]]]])
    metrics = cards(client, where=where)
    either = cards(client, source=top["source"])["visitors"]["value"]
    assert metrics["visitors"]["value"] >= either > 0
    rows = client.get("/api/breakdown/sources", params={**q(where=where), "limit": 300})
    assert rows.status_code == 200
    bad = client.get("/api/summary", params=q(where='["matches", "page", ["(a*)*"]]'))
    assert bad.status_code == 400 and "exponential" in bad.json()["error"]
    # hostile expressions from a URL: a 400 each, in bounded time, never a 5xx
    leaf = ["is", "source", ["x"]]
    hostile = [
        "[" * 5000 + "]" * 5000,  # deeper than any parser should go
        "{not json", "x" * 20_000, json.dumps(["and", [leaf] * 60]),
        json.dumps(["xor", [leaf]]), json.dumps(["is", "planet", ["Mars"]]),
        json.dumps(["has_done", leaf]), json.dumps(["is", "source", []]),
        json.dumps(["is", "source", ["a"] * 21]), json.dumps(["is", "event", ["\u0000"]]),
    ]  # fmt: skip
    for _ in range(12):
        leaf = ["not", leaf]
    hostile.append(json.dumps(leaf))  # nested past the 8 levels allowed
    for text in hostile:
        answer = client.get("/api/summary", params=q(where=text))
        assert answer.status_code == 400, (text[:60], answer.text[:200])
    site = q()["site"]
    raw = client.get(f"/api/summary?site={site}&period=30d&where=%FF%FE%5B")  # not UTF-8
    assert raw.status_code == 400, raw.text[:200]


# -- the property breakdown -------------------------------------------------------------------


def test_the_property_breakdown_lists_each_names_values(
    stats_api: Any, client: TestClient, engine: Engine
) -> None:
    """``event:props:plan`` (and the Properties panel): each value's visitors are the
    visitors with a page view or custom event carrying it, counted as plain SQL does."""
    api, headers = stats_api
    body = {"site_id": SITE, "metrics": ["visitors", "events", "pageviews", "percentage"],
            "dimensions": ["event:props:plan"], "include": {"total_rows": True},
            "date_range": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]}  # fmt: skip
    answer = api.post("/api/v2/query", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert {r["dimensions"][0] for r in results} == {"free", "pro", "team"}
    assert answer.json()["meta"]["total_rows"] == 3
    for row in results:
        value = row["dimensions"][0]
        carrying = (
            f"element_at(x.props, 'plan') = '{value}' "
            "AND x.event_type IN ('pageview', 'event')"
        )
        daily = engine.query(
            "SELECT count(DISTINCT (x.event_date, x.visitor_id)), count(*), "
            "count_if(x.event_type = 'pageview') FROM events_deduped AS x "
            f"WHERE x.domain_name = '{SITE}' AND x.event_date BETWEEN '{FIRST_DAY.isoformat()}' "
            f"AND '{LAST_DAY.isoformat()}' AND {carrying}"
        ).rows[0]
        assert row["metrics"][:3] == list(daily), value
        assert 0 < row["metrics"][3] <= 100
    # the dashboard's Properties panel gives the same rows
    panel = client.get(
        "/api/breakdown/props",
        params={**q(), "period": "custom", "from": FIRST_DAY.isoformat(),
                "to": LAST_DAY.isoformat(), "prop_key": "plan", "limit": 50},
    )  # fmt: skip
    assert panel.status_code == 200, panel.text
    assert [[r["prop_value"], r["visitors"], r["events"], r["pageviews"]]
            for r in panel.json()["rows"]] == [
        [r["dimensions"][0], *r["metrics"][:3]] for r in results
    ]  # fmt: skip
    # without prop_key, every property's values, named
    every = client.get("/api/breakdown/props", params={**q(), "limit": 50}).json()["rows"]
    assert {r["prop_key"] for r in every} >= {"plan"}
    refused = client.get("/api/breakdown/pages", params={**q(), "prop_key": "plan"})
    assert refused.status_code == 400


# -- a page filter as Plausible's: the visits that viewed it, the page's own page views ----


def page_views_where(engine: Engine, condition: str) -> int:
    sql = (
        "SELECT count(*) FROM events_deduped AS s WHERE s.event_type = 'pageview' "
        f"AND {RANGE} AND ({condition})"
    )
    return int(engine.query(sql).rows[0][0])


@pytest.mark.parametrize(
    ("filters", "pages"),
    [
        ({"page": "{page}"}, "s.page_path = '{page}'"),
        ({"page": "~blog"}, "strpos(lower(s.page_path), 'blog') > 0"),
        ({"page": "~blog", "source": "{source}"}, "strpos(lower(s.page_path), 'blog') > 0"),
    ],
)
def test_a_page_filter_counts_that_pages_views_and_the_visits_that_viewed_it(
    client: TestClient, engine: Engine, top: dict[str, str], filters: dict[str, str],
    pages: str,
) -> None:  # fmt: skip
    asked = {k: v.format(**top) for k, v in filters.items()}
    condition = pages.format(**top)
    metrics = cards(client, **asked)
    visits = having(f"x.event_type = 'pageview' AND {condition.replace('s.', 'x.')}")
    if "source" in asked:
        visits += f" AND s.source = '{asked['source']}'"
        in_visits = (
            f"({condition}) AND EXISTS (SELECT 1 FROM sessions AS v WHERE "
            "v.event_date = s.event_date AND v.domain_name = s.domain_name AND "
            "v.visitor_id = s.visitor_id AND s.event_time BETWEEN v.session_start AND "
            f"v.session_end AND v.source = '{asked['source']}')"
        )
    else:
        in_visits = condition
    # visitors and visits: the visits that viewed such a page (a segment)
    assert metrics["visitors"]["value"] == visitors_where(engine, visits) > 0
    # page views: only those pages' own, as Plausible counts them
    assert metrics["pageviews"]["value"] == page_views_where(engine, in_visits) > 0
    assert metrics["views_per_visit"]["value"] is None  # Plausible has none either
    # Top pages lists only the matching pages; their views add up to the card
    rows = client.get("/api/breakdown/pages", params={**q(**asked), "limit": 300}).json()
    assert rows["rows"] and all(
        engine.query(f"SELECT {condition.replace('s.page_path', repr(r['page_path']))}")
        .rows[0][0] for r in rows["rows"]
    )  # fmt: skip
    assert sum(r["pageviews"] for r in rows["rows"]) == metrics["pageviews"]["value"]
    # the graph's page views too, by day and by week
    for interval in ("day", "week"):
        points = client.get("/api/timeseries", params=q(interval=interval, **asked)).json()
        assert sum(p["pageviews"] or 0 for p in points["points"]) == metrics["pageviews"]["value"]
    # visit panels stay visit panels: sources add up to the visits
    sources = client.get("/api/breakdown/sources", params={**q(**asked), "limit": 300}).json()
    assert sum(r["visits"] for r in sources["rows"]) == metrics["visits"]["value"]


def test_a_negated_page_filter_keeps_every_page_of_the_other_visits(
    client: TestClient, engine: Engine, top: dict[str, str]
) -> None:
    metrics = cards(client, page=f"!{top['page']}")
    viewed = having(f"x.event_type = 'pageview' AND x.page_path = '{top['page']}'")
    expected = engine.query(
        f"SELECT sum(pageviews) FROM sessions AS s WHERE {RANGE} AND NOT {viewed}"
    ).rows[0][0]
    assert metrics["pageviews"]["value"] == expected > 0
    assert metrics["views_per_visit"]["value"] is not None


def test_the_stats_api_follows_the_page_filter_and_refuses_views_per_visit(
    stats_api: Any, client: TestClient, top: dict[str, str]
) -> None:
    api, headers = stats_api
    body = {"site_id": SITE, "metrics": ["visitors", "pageviews"],
            "filters": [["is", "event:page", [top["page"]]]],
            "date_range": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]}  # fmt: skip
    answer = api.post("/api/v2/query", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    expected = cards(client, page=top["page"])
    assert answer.json()["results"][0]["metrics"] == [
        expected["visitors"]["value"], expected["pageviews"]["value"]
    ]
    refused = api.post(
        "/api/v2/query", json={**body, "metrics": ["views_per_visit"]}, headers=headers
    )
    assert refused.status_code == 400 and "views_per_visit" in refused.json()["error"]

"""Plausible's Stats API v2 (``POST /api/v2/query``) over the generated lake.

Every figure it gives is compared with the dashboard's own API for the same question
(one query core), its shapes with Plausible's documented ones, and its refusals with the
intent of Plausible's messages. Hostile bodies get a 4xx in bounded time, never a 5xx.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import DOMAINS, FIRST_DAY, LAST_DAY
from starlette.testclient import TestClient

from ownstats.dashboard import build_app
from ownstats.dashboard.api_keys import KeyStore
from ownstats.engine import Engine

SITE = DOMAINS[0]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore(tmp_path_factory.mktemp("keys"), hourly_limit=100_000)


@pytest.fixture(scope="module")
def key(keys: KeyStore) -> str:
    return keys.create("tests")


@pytest.fixture(scope="module")
def api(engine: Engine, keys: KeyStore) -> Iterator[TestClient]:
    with TestClient(build_app(engine, today=lambda: LAST_DAY, api_keys=keys)) as client:
        yield client


def ask(api: TestClient, key: str, body: Any, status: int = 200) -> dict[str, Any]:
    response = api.post("/api/v2/query", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == status, response.text
    return response.json()


def query(**fields: Any) -> dict[str, Any]:
    return {"site_id": SITE, "date_range": "30d", **fields}


def q(**params: Any) -> dict[str, Any]:
    """The dashboard's parameters for the same question (30 days by default)."""
    return {"site": SITE, "period": "30d", **params}


# -- keys ------------------------------------------------------------------------------


def test_a_key_is_needed_and_only_its_hash_is_stored(
    api: TestClient, keys: KeyStore, key: str
) -> None:
    body = query(metrics=["visitors"])
    assert api.post("/api/v2/query", json=body).status_code == 401
    other = "y" if key.endswith("x") else "x"  # a random key may end with "x" itself
    for wrong in ("Bearer nope", f"Bearer {key[:-1]}{other}", key, "Basic abc"):
        answer = api.post("/api/v2/query", json=body, headers={"Authorization": wrong})
        assert answer.status_code == 401 and "API key" in answer.json()["error"]
    stored = keys.path.read_text()
    assert key not in stored and key.split("_")[-1] not in stored
    assert keys.path.stat().st_mode & 0o077 == 0  # the owner's only
    spare = keys.create("revoked soon")
    assert ask(api, spare, body)["results"]
    assert keys.revoke(spare.split("_")[1])
    assert api.post("/api/v2/query", json=body,
                    headers={"Authorization": f"Bearer {spare}"}).status_code == 401  # fmt: skip


def test_each_key_is_rate_limited(engine: Engine, tmp_path: Path) -> None:
    store = KeyStore(tmp_path, hourly_limit=3)
    first, second = store.create("a"), store.create("b")
    with TestClient(build_app(engine, today=lambda: LAST_DAY, api_keys=store)) as client:
        body = query(metrics=["visitors"])
        for _ in range(3):
            ask(client, first, body)
        refused = ask(client, first, body, 429)
        assert "rate limit of 3 requests an hour" in refused["error"]
        ask(client, second, body)  # another key has its own budget


def test_without_a_key_store_there_is_no_stats_api(client: TestClient) -> None:
    assert client.post("/api/v2/query", json=query(metrics=["visitors"])).status_code in (404, 405)


# -- the same numbers as the dashboard ---------------------------------------------------


def test_the_aggregate_equals_the_dashboards_cards(api: TestClient, key: str) -> None:
    metrics = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate"]
    metrics.append("visit_duration")
    for period, date_range in (("30d", "30d"), ("7d", "7d"), ("today", "day"), ("all", "all")):
        answer = ask(api, key, query(metrics=metrics, date_range=date_range))
        (row,) = answer["results"]
        dashboard = api.get("/api/summary", params=q(period=period, comparison="off")).json()
        cards, meta = dashboard["metrics"], dashboard["meta"]
        assert row["dimensions"] == []
        counts = [cards[m]["value"] for m in ("visitors", "visits", "pageviews")]
        assert row["metrics"][:3] == counts
        assert row["metrics"][3] == round(cards["views_per_visit"]["value"], 2)
        assert row["metrics"][4] == round(cards["bounce_rate"]["value"] * 100)
        assert row["metrics"][5] == round(cards["visit_duration_s"]["value"])
        first, last = f"{meta['from']}T00:00:00Z", f"{meta['to']}T23:59:59Z"
        assert answer["query"]["date_range"] == [first, last]


@pytest.mark.parametrize(
    ("dimension", "panel", "column"),
    [
        ("visit:source", "sources", "source"),
        ("visit:channel", "channels", "channel"),
        ("visit:country", "countries", "country_code"),
        ("visit:browser", "browsers", "browser_name"),
        ("visit:os", "operating-systems", "os_name"),
        ("visit:utm_campaign", "campaigns", "utm_campaign"),
    ],
)
def test_a_breakdown_equals_the_dashboards_panel(
    api: TestClient, key: str, dimension: str, panel: str, column: str
) -> None:
    answer = ask(api, key, query(metrics=["visitors", "visits"], dimensions=[dimension],
                                 include={"total_rows": True}))  # fmt: skip
    rows = api.get(f"/api/breakdown/{panel}", params={**q(), "limit": 1000}).json()["rows"]
    assert answer["results"] == [
        {"metrics": [r["visitors"], r["visits"]], "dimensions": [r[column]]} for r in rows
    ]
    assert answer["meta"]["total_rows"] == len(rows) > 0


def test_pages_goals_devices_and_percentages(api: TestClient, key: str) -> None:
    pages = ask(api, key, query(metrics=["visitors", "pageviews", "percentage"],
                                dimensions=["event:page"], order_by=[["pageviews", "desc"]],
                                pagination={"limit": 5, "offset": 1}))["results"]  # fmt: skip
    by_views = {**q(), "limit": 6, "order_by": "pageviews"}
    panel = api.get("/api/breakdown/pages", params=by_views).json()["rows"]
    everyone = api.get("/api/summary", params=q()).json()["metrics"]["visitors"]["value"]
    assert [r["dimensions"][0] for r in pages] == [r["page_path"] for r in panel[1:]]
    assert [r["metrics"][:2] for r in pages] == [[r["visitors"], r["pageviews"]] for r in panel[1:]]
    assert [r["metrics"][2] for r in pages] == [round(r["visitors"] / everyone * 100, 1)
                                                for r in panel[1:]]  # fmt: skip

    goals = ask(api, key, query(metrics=["visitors", "events", "conversion_rate"],
                                dimensions=["event:goal"]))["results"]  # fmt: skip
    panel = api.get("/api/breakdown/custom-events", params={**q(), "limit": 100}).json()["rows"]
    assert goals and [g["metrics"] for g in goals] == [
        [r["visitors"], r["events"], round(r["conversion_rate"] * 100, 1)] for r in panel
    ]
    devices = ask(api, key, query(metrics=["visitors"], dimensions=["visit:device"]))["results"]
    assert {d["dimensions"][0] for d in devices} <= {"Desktop", "Mobile", "Tablet"}


def test_a_filtered_query_equals_the_filtered_dashboard(api: TestClient, key: str) -> None:
    filters = [["is", "visit:source", ["Google"]], ["is", "visit:device", ["Mobile"]]]
    answer = ask(api, key, query(metrics=["visitors", "visits"], filters=filters))
    cards = api.get("/api/summary", params=q(source="Google", device="mobile")).json()["metrics"]
    assert answer["results"][0]["metrics"] == [cards["visitors"]["value"], cards["visits"]["value"]]
    assert answer["query"]["filters"] == filters
    nested = ask(api, key, query(metrics=["visitors", "visits"], filters=[["and", filters]]))
    assert nested["results"] == answer["results"]

    top = api.get("/api/breakdown/pages", params={**q(), "limit": 1}).json()["rows"]
    page = top[0]["page_path"]
    on_page = ask(api, key, query(metrics=["visitors"], filters=[["is", "event:page", [page]]]))
    cards = api.get("/api/summary", params=q(page=page)).json()["metrics"]
    assert on_page["results"][0]["metrics"] == [cards["visitors"]["value"]]


def test_several_dimensions_equal_the_cards_of_each_combination(
    api: TestClient, key: str
) -> None:
    metrics = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration",
               "views_per_visit"]  # fmt: skip
    answer = ask(api, key, query(metrics=metrics, dimensions=["visit:source", "visit:device"],
                                 include={"total_rows": True}))  # fmt: skip
    results = answer["results"]
    assert len(results) == answer["meta"]["total_rows"] > 4
    assert [r["metrics"][0] for r in results] == sorted(
        (r["metrics"][0] for r in results), reverse=True
    )
    for row in results[:4]:
        source, device = row["dimensions"]
        assert device in ("Desktop", "Mobile", "Tablet")
        params = q(comparison="off", source=source or "(none)", device=device.lower())
        cards = api.get("/api/summary", params=params).json()["metrics"]
        assert row["metrics"] == [
            cards["visitors"]["value"], cards["visits"]["value"], cards["pageviews"]["value"],
            round(cards["bounce_rate"]["value"] * 100), round(cards["visit_duration_s"]["value"]),
            round(cards["views_per_visit"]["value"], 2),
        ], row  # fmt: skip
    everyone = api.get("/api/summary", params=q(comparison="off")).json()["metrics"]
    assert sum(r["metrics"][1] for r in results) == everyone["visits"]["value"]
    # a time dimension with a visit one: each source's days add up to its panel row
    by_day = ask(api, key, query(metrics=["visitors", "visits"],
                                 dimensions=["time:day", "visit:source"]))["results"]  # fmt: skip
    days = [r["dimensions"][0] for r in by_day]
    assert days == sorted(days)
    panel = api.get("/api/breakdown/sources", params={**q(), "limit": 300}).json()["rows"]
    for row in panel[:3]:
        mine = [r["metrics"] for r in by_day if r["dimensions"][1] == row["source"]]
        assert [sum(m[0] for m in mine), sum(m[1] for m in mine)] == [
            row["visitors"], row["visits"]
        ]
    # filters and pagination apply as for one dimension
    filtered = query(metrics=["visitors"], dimensions=["visit:country", "visit:browser"],
                     filters=[["is", "visit:device", ["Mobile"]]])  # fmt: skip
    whole = ask(api, key, filtered)["results"]
    paged = ask(api, key, {**filtered, "pagination": {"limit": 3, "offset": 2}})["results"]
    assert paged == whole[2:5]
    mobile = api.get("/api/summary", params=q(comparison="off", device="mobile")).json()
    assert sum(r["metrics"][0] for r in whole) == mobile["metrics"]["visitors"]["value"]


@pytest.mark.parametrize(
    ("dimension", "column", "param"),
    [
        ("visit:referrer", "referrer_url", "referrer"),
        ("visit:utm_source", "utm_source", "utm_source"),
        ("visit:browser_version", "browser_version", "browser_version"),
        ("visit:os_version", "os_version", "os_version"),
    ],
)
def test_visit_attributes_without_a_panel_break_down_and_filter(
    api: TestClient, key: str, engine: Engine, dimension: str, column: str, param: str
) -> None:
    """The visit's first referrer, utm_source, browser and OS versions: each value's
    visitors as plain SQL over ``sessions`` counts them, and each is a filter."""
    answer = ask(api, key, query(metrics=["visitors", "visits"], dimensions=[dimension],
                                 date_range=[FIRST_DAY.isoformat(), LAST_DAY.isoformat()]))
    rows = answer["results"]
    expected = dict(
        ((value, (visitors, visits)) for value, visitors, visits in engine.query(
            f"SELECT {column}, count(DISTINCT (event_date, visitor_id)), count(*) "
            f"FROM sessions WHERE domain_name = '{SITE}' AND event_date BETWEEN "
            f"'{FIRST_DAY.isoformat()}' AND '{LAST_DAY.isoformat()}' GROUP BY {column}"
        ).rows)
    )  # fmt: skip
    assert {r["dimensions"][0]: tuple(r["metrics"]) for r in rows} == expected
    top = next(r for r in rows if r["dimensions"][0] is not None)
    value = top["dimensions"][0]
    filtered = ask(api, key, query(metrics=["visitors", "visits"],
                                   date_range=[FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
                                   filters=[["is", dimension, [value]]]))  # fmt: skip
    assert filtered["results"][0]["metrics"] == top["metrics"]
    cards = api.get("/api/summary", params=q(comparison="off", period="custom",
                                             **{"from": FIRST_DAY.isoformat(),
                                                "to": LAST_DAY.isoformat(), param: value}))
    assert cards.json()["metrics"]["visits"]["value"] == top["metrics"][1]


def test_a_hostname_filter_is_the_visits_with_an_event_there(
    api: TestClient, key: str, engine: Engine
) -> None:
    (host,) = engine.query(
        f"SELECT hostname FROM events_deduped WHERE domain_name = '{SITE}' "
        "AND hostname IS NOT NULL GROUP BY hostname ORDER BY count(*) DESC LIMIT 1"
    ).rows[0]
    answer = ask(api, key, query(metrics=["visits"], filters=[["is", "event:hostname", [host]]]))
    everyone = ask(api, key, query(metrics=["visits"]))
    assert 0 < answer["results"][0]["metrics"][0] <= everyone["results"][0]["metrics"][0]
    # the breakdown: each hostname's visitors and page views, as plain SQL counts them
    window = f"event_date BETWEEN '{FIRST_DAY.isoformat()}' AND '{LAST_DAY.isoformat()}'"
    rows = ask(api, key, query(metrics=["visitors", "pageviews"], dimensions=["event:hostname"],
                               date_range=[FIRST_DAY.isoformat(), LAST_DAY.isoformat()]))
    expected = {
        name: [visitors, views] for name, visitors, views in engine.query(
            "SELECT hostname, count(DISTINCT (event_date, visitor_id)), "
            "count_if(event_type = 'pageview') FROM events_deduped "
            f"WHERE domain_name = '{SITE}' AND {window} "
            "AND event_type IN ('pageview', 'event') GROUP BY hostname"
        ).rows
    }  # fmt: skip
    assert {r["dimensions"][0]: r["metrics"] for r in rows["results"]} == expected


def test_a_range_of_datetimes_counts_the_events_between_them(
    api: TestClient, key: str, engine: Engine
) -> None:
    """``date_range`` as two datetimes (Plausible's): the events from the first moment
    to the last, inclusive to the second, on the site's clock (UTC here)."""
    first = f"{(LAST_DAY - timedelta(days=2)).isoformat()}T09:30:00Z"
    last = f"{LAST_DAY.isoformat()}T14:15:59Z"
    answer = ask(api, key, query(metrics=["visitors", "pageviews"], date_range=[first, last]))
    since, until = first[:19].replace("T", " "), last[:19].replace("T", " ")
    expected = engine.query(
        "SELECT count(DISTINCT (event_date, visitor_id)) FILTER (WHERE event_type <> "
        "'engagement'), count(*) FILTER (WHERE event_type = 'pageview') FROM events_deduped "
        f"WHERE domain_name = '{SITE}' AND event_time >= TIMESTAMP '{since}' "
        f"AND event_time < TIMESTAMP '{until}' + INTERVAL '1' SECOND"
    ).rows[0]
    assert answer["results"][0]["metrics"] == list(expected)
    assert expected[1] > 0
    assert answer["query"]["date_range"] == [first, last]
    # an offset is converted; a day's datetimes by day add up to the whole
    shifted = f"{(LAST_DAY - timedelta(days=2)).isoformat()}T11:30:00+02:00"
    same = ask(api, key, query(metrics=["visitors", "pageviews"], date_range=[shifted, last]))
    assert same["results"] == answer["results"]
    days = ask(api, key, query(metrics=["pageviews"], date_range=[first, last],
                               dimensions=["time:day"]))["results"]  # fmt: skip
    assert sum(d["metrics"][0] for d in days) == expected[1]
    for bad in ([last, first], [first, "2026-13-01T00:00:00Z"]):
        assert ask(api, key, query(metrics=["visitors"], date_range=bad), 400)


def test_time_dimensions_equal_the_dashboards_graph(api: TestClient, key: str) -> None:
    answer = ask(api, key, query(metrics=["visitors", "pageviews"], dimensions=["time:day"],
                                 include={"time_labels": True}))  # fmt: skip
    graph = api.get("/api/timeseries", params={**q(), "interval": "day"}).json()["points"]
    assert answer["meta"]["time_labels"] == [p["bucket"] for p in graph]
    assert answer["results"] == [
        {"metrics": [p["visitors"], p["pageviews"]], "dimensions": [p["bucket"]]}
        for p in graph if p["visitors"]
    ]  # fmt: skip
    weeks = ask(api, key, query(metrics=["visits"], dimensions=["time:week"]))["results"]
    assert sum(w["metrics"][0] for w in weeks) == sum(p["visits"] for p in graph)


def _by(rows: list[dict[str, Any]], at: int) -> dict[Any, list[Any]]:
    """Result rows keyed by their ``at``-th dimension."""
    return {r["dimensions"][at]: r["metrics"] for r in rows}


def _source_filter(source: str | None) -> str:
    return source or "(none)"


@pytest.mark.parametrize(
    ("dimension", "panel", "column", "metrics", "columns"),
    [
        ("event:page", "pages", "page_path", ["visitors", "pageviews", "time_on_page"],
         ["visitors", "pageviews", "avg_time_on_page_s"]),
        ("event:goal", "custom-events", "event_name", ["visitors", "events", "conversion_rate"],
         ["visitors", "events", "conversion_rate"]),
        ("event:hostname", "hostnames", "hostname", ["visitors", "pageviews", "events"],
         ["visitors", "pageviews", "events"]),
        ("visit:city", "cities", "edge_city", ["visitors", "pageviews"], ["visitors", "pageviews"]),
    ],
)  # fmt: skip
def test_an_event_dimension_with_a_visit_one_equals_the_panel_under_that_filter(
    api: TestClient,
    key: str,
    dimension: str,
    panel: str,
    column: str,
    metrics: list[str],
    columns: list[str],
) -> None:
    """``event:page`` × ``visit:source`` (and goals, hostnames, cities): the rows of each
    source are the panel's rows under that source's filter, figure for figure."""
    answer = ask(api, key, query(metrics=metrics, dimensions=[dimension, "visit:source"],
                                 include={"total_rows": True}))  # fmt: skip
    results = answer["results"]
    assert len(results) == answer["meta"]["total_rows"] > 3
    assert [r["metrics"][0] for r in results] == sorted(
        (r["metrics"][0] for r in results), reverse=True
    )
    sources = api.get("/api/breakdown/sources", params={**q(), "limit": 3}).json()["rows"]
    for source in [s["source"] for s in sources]:
        params = {**q(source=_source_filter(source)), "limit": 1000}
        rows = api.get(f"/api/breakdown/{panel}", params=params).json()["rows"]
        expected = {}
        for row in rows:
            values = []
            for name in columns:
                value = row[name]
                if name == "conversion_rate":
                    value = round(value * 100, 1)
                elif name == "avg_time_on_page_s":
                    value = None if value is None else round(value)
                values.append(value)
            expected[row[column]] = values
        mine = {r["dimensions"][0]: r["metrics"] for r in results if r["dimensions"][1] == source}
        assert mine == expected and mine, (source, panel)


def test_several_dimensions_with_an_event_one_as_plain_sql_counts_them(
    api: TestClient, key: str, engine: Engine
) -> None:
    """Independent of the panels: each page's visitors and page views per device of
    the visit, by plain SQL joining events to their visit."""
    window = f"event_date BETWEEN '{FIRST_DAY.isoformat()}' AND '{LAST_DAY.isoformat()}'"
    answer = ask(
        api,
        key,
        query(
            metrics=["visitors", "pageviews"],
            dimensions=["visit:device", "event:page"],
            date_range=[FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
        ),
    )
    expected = {
        (device.capitalize(), page): [visitors, views]
        for device, page, visitors, views in engine.query(
            "SELECT s.device_type, e.page_path, count(DISTINCT (e.event_date, e.visitor_id)), "
            "count(*) FROM events_deduped AS e JOIN sessions AS s ON s.event_date = "
            "e.event_date AND s.domain_name = e.domain_name AND s.visitor_id = e.visitor_id "
            "AND e.event_time BETWEEN s.session_start AND s.session_end "
            f"WHERE e.domain_name = '{SITE}' AND e.{window} AND e.event_type = 'pageview' "
            "GROUP BY ALL"
        ).rows
    }  # fmt: skip
    assert {tuple(r["dimensions"]): r["metrics"] for r in answer["results"]} == expected
    # a property's values by source: the Properties panel under each source's filter
    (prop,) = engine.query(
        f"SELECT p.k FROM events_deduped, UNNEST(map_keys(props)) AS p(k) WHERE "
        f"domain_name = '{SITE}' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).rows[0]
    by_prop = ask(
        api,
        key,
        query(metrics=["visitors", "events"], dimensions=[f"event:props:{prop}", "visit:source"]),
    )
    sources = {r["dimensions"][1] for r in by_prop["results"]}
    for source in sorted(sources, key=str)[:2]:
        params = {**q(source=_source_filter(source)), "prop_key": prop, "limit": 1000}
        rows = api.get("/api/breakdown/props", params=params).json()["rows"]
        mine = {r["dimensions"][0]: r["metrics"] for r in by_prop["results"]
                if r["dimensions"][1] == source}  # fmt: skip
        assert mine == {r["prop_value"]: [r["visitors"], r["events"]] for r in rows}


def test_hours_are_the_graphs_hours_with_plausibles_labels(api: TestClient, key: str) -> None:
    """``time:hour`` (alone, or with a visit attribute): each hour's visitors, page views
    and visits as the day's hourly graph counts them under that attribute's filter; the
    labels are Plausible's datetimes, over ranges of several days too."""
    day = LAST_DAY - timedelta(days=1)
    one_day = [day.isoformat(), day.isoformat()]
    metrics = ["visitors", "pageviews", "visits"]
    alone = ask(api, key, query(metrics=metrics, date_range=one_day, dimensions=["time:hour"],
                                include={"time_labels": True}))  # fmt: skip
    labels = [f"{day.isoformat()} {h:02}:00:00" for h in range(24)]
    assert alone["meta"]["time_labels"] == labels
    period = {"period": "custom", "from": day.isoformat(), "to": day.isoformat()}
    graph = api.get("/api/timeseries", params={**q(**period)}).json()["points"]
    assert alone["results"] == [
        {"metrics": [p["visitors"], p["pageviews"], p["visits"]],
         "dimensions": [labels[int(p["bucket"])]]}
        for p in graph if p["visitors"]
    ]  # fmt: skip
    # "time" over one day is hours too
    assert ask(api, key, query(metrics=metrics, date_range=one_day,
                               dimensions=["time"]))["results"] == alone["results"]  # fmt: skip
    by_device = ask(
        api,
        key,
        query(metrics=metrics, date_range=one_day, dimensions=["time:hour", "visit:device"]),
    )["results"]
    for device in ("desktop", "mobile"):
        graph = api.get("/api/timeseries", params=q(device=device, **period)).json()["points"]
        mine = _by([r for r in by_device if r["dimensions"][1] == device.capitalize()], 0)
        assert mine == {labels[int(p["bucket"])]: [p["visitors"], p["pageviews"], p["visits"]]
                        for p in graph if p["visitors"]}  # fmt: skip
    # several days: each day's hours add up to that day's page views
    week = ask(api, key, query(metrics=["pageviews"], dimensions=["time:hour"], date_range="7d",
                               include={"time_labels": True}))  # fmt: skip
    assert len(week["meta"]["time_labels"]) == 7 * 24
    days = ask(api, key, query(metrics=["pageviews"], dimensions=["time:day"],
                               date_range="7d"))["results"]  # fmt: skip
    summed: dict[str, int] = {}
    for row in week["results"]:
        label = row["dimensions"][0]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:00:00", label)
        summed[label[:10]] = summed.get(label[:10], 0) + row["metrics"][0]
    assert summed == {d["dimensions"][0]: d["metrics"][0] for d in days}


def test_an_event_dimension_by_hour_as_plain_sql_counts_it(
    api: TestClient, key: str, engine: Engine
) -> None:
    """``event:page`` × ``time:hour``: each page's visitors and page views in each hour
    (plain SQL); a goal filter's conversion rate per hour is over that hour's visitors,
    as the hourly graphs (filtered and not) count them."""
    day = LAST_DAY - timedelta(days=1)
    one_day = [day.isoformat(), day.isoformat()]
    answer = ask(api, key, query(metrics=["visitors", "pageviews"], date_range=one_day,
                                 dimensions=["event:page", "time:hour"]))  # fmt: skip
    expected = {
        (page, f"{day.isoformat()} {hour:02}:00:00"): [visitors, views]
        for page, hour, visitors, views in engine.query(
            "SELECT page_path, hour(event_time), count(DISTINCT visitor_id), count(*) "
            f"FROM events_deduped WHERE domain_name = '{SITE}' AND event_date = "
            f"'{day.isoformat()}' AND event_type = 'pageview' GROUP BY ALL"
        ).rows
    }  # fmt: skip
    assert {tuple(r["dimensions"]): r["metrics"] for r in answer["results"]} == expected
    goal = api.get("/api/breakdown/custom-events", params={**q(), "limit": 1}).json()["rows"][0]
    rates = ask(api, key, query(metrics=["visitors", "conversion_rate"], date_range=one_day,
                                dimensions=["time:hour"],
                                filters=[["is", "event:goal", [goal["event_name"]]]]))
    period = {"period": "custom", "from": day.isoformat(), "to": day.isoformat()}
    everyone = api.get("/api/timeseries", params=q(**period)).json()["points"]
    converted = api.get("/api/timeseries", params=q(event=goal["event_name"], **period)).json()
    want = {
        f"{day.isoformat()} {int(c['bucket']):02}:00:00": [
            c["visitors"], round(c["visitors"] / e["visitors"] * 100, 1)
        ]
        for c, e in zip(converted["points"], everyone, strict=True) if c["visitors"]
    }  # fmt: skip
    assert _by(rates["results"], 0) == want and want


def test_two_event_dimensions_split_the_counted_events_by_the_other(
    api: TestClient, key: str, engine: Engine
) -> None:
    """Goals by the page they were sent from, and pages by edge city and device: the
    counted events split by their own value of the other event attribute (plain SQL)."""
    dates = [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]
    window = f"event_date BETWEEN '{dates[0]}' AND '{dates[1]}'"
    answer = ask(api, key, query(metrics=["visitors", "events"], date_range=dates,
                                 dimensions=["event:page", "event:goal"]))  # fmt: skip
    expected = {
        (page, goal): [visitors, events]
        for goal, page, visitors, events in engine.query(
            "SELECT event_name, page_path, count(DISTINCT (event_date, visitor_id)), count(*) "
            f"FROM events_deduped WHERE domain_name = '{SITE}' AND {window} "
            "AND event_type = 'event' GROUP BY ALL"
        ).rows
    }  # fmt: skip
    assert {tuple(r["dimensions"]): r["metrics"] for r in answer["results"]} == expected
    assert len(expected) > 3
    cities = ask(api, key, query(metrics=["pageviews"], date_range=dates,
                                 dimensions=["visit:city", "event:page", "visit:device"]))
    expected = {
        (city, page, device.capitalize()): [views]
        for city, page, device, views in engine.query(
            "SELECT e.edge_city, e.page_path, s.device_type, count(*) FROM events_deduped "
            "AS e JOIN sessions AS s ON s.event_date = e.event_date AND s.domain_name = "
            "e.domain_name AND s.visitor_id = e.visitor_id AND e.event_time BETWEEN "
            f"s.session_start AND s.session_end WHERE e.domain_name = '{SITE}' "
            f"AND e.{window} AND e.event_type = 'pageview' GROUP BY ALL"
        ).rows
    }  # fmt: skip
    assert {tuple(r["dimensions"]): r["metrics"] for r in cities["results"]} == expected


def test_events_are_page_views_and_custom_events_or_a_goals_own(
    api: TestClient, key: str, engine: Engine
) -> None:
    """Plausible's ``events`` without a goal filter: page views and custom events, in
    total, per visit attribute, per day and per hour (plain SQL); with one, the goal's
    own events (the cards' total conversions)."""
    dates = [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]
    window = f"e.event_date BETWEEN '{dates[0]}' AND '{dates[1]}'"

    def counted(by: str, where: str = "") -> dict[tuple[Any, ...], list[int]]:
        rows = engine.query(
            f"SELECT {by}, count(*) FROM events_deduped AS e JOIN sessions AS s "
            "ON s.event_date = e.event_date AND s.domain_name = e.domain_name "
            "AND s.visitor_id = e.visitor_id AND e.event_time BETWEEN s.session_start "
            f"AND s.session_end WHERE e.domain_name = '{SITE}' AND {window} "
            f"AND e.event_type IN ('pageview', 'event'){where} GROUP BY ALL"
        ).rows
        return {tuple(r[:-1]): [r[-1]] for r in rows}

    total = ask(api, key, query(metrics=["events"], date_range=dates))["results"][0]
    assert [total["metrics"]] == list(counted("'all'").values())
    for dimension, by in (("visit:source", "s.source"), ("time:day", "e.event_date"),
                          ("visit:os", "s.os_name")):  # fmt: skip
        rows = ask(api, key, query(metrics=["events"], date_range=dates,
                                   dimensions=[dimension]))["results"]  # fmt: skip
        assert {tuple(r["dimensions"]): r["metrics"] for r in rows} == counted(by), dimension
    day = LAST_DAY.isoformat()
    hours = ask(api, key, query(metrics=["events"], date_range=[day, day],
                                dimensions=["time:hour", "visit:device"]))["results"]
    want = {
        (f"{day} {hour:02}:00:00", device.capitalize()): value
        for (hour, device), value in counted(
            "hour(e.event_time), s.device_type", f" AND e.event_date = '{day}'"
        ).items()
    }  # fmt: skip
    assert {tuple(r["dimensions"]): r["metrics"] for r in hours} == want
    goal = api.get("/api/breakdown/custom-events", params={**q(), "limit": 1}).json()["rows"][0]
    name = goal["event_name"]
    filters = [["is", "event:goal", [name]]]
    by_source = ask(api, key, query(metrics=["events"], dimensions=["visit:source"],
                                    filters=filters))["results"]  # fmt: skip
    cards = api.get("/api/summary", params=q(event=name)).json()["metrics"]
    assert sum(r["metrics"][0] for r in by_source) == cards["total_conversions"]["value"] > 0
    # conversion rate by one visit attribute: the Goals panel under that attribute
    rates = ask(api, key, query(metrics=["visitors", "conversion_rate"],
                                dimensions=["visit:source"], filters=filters))["results"]
    for row in rates[:3]:
        source = row["dimensions"][0]
        params = {**q(source=_source_filter(source)), "limit": 100}
        panel = api.get("/api/breakdown/custom-events", params=params).json()["rows"]
        (mine,) = [r for r in panel if r["event_name"] == name]
        assert row["metrics"] == [mine["visitors"], round(mine["conversion_rate"] * 100, 1)]


def test_several_order_by_entries_with_one_dimension(api: TestClient, key: str) -> None:
    body = query(metrics=["visitors", "pageviews"], dimensions=["event:page"],
                 order_by=[["visitors", "asc"], ["event:page", "desc"]],
                 pagination={"limit": 7, "offset": 2})  # fmt: skip
    rows = ask(api, key, body)["results"]
    panel = api.get("/api/breakdown/pages", params={**q(), "limit": 1000}).json()["rows"]
    panel.sort(key=lambda r: r["page_path"], reverse=True)
    panel.sort(key=lambda r: r["visitors"])
    assert rows == [
        {"metrics": [r["visitors"], r["pageviews"]], "dimensions": [r["page_path"]]}
        for r in panel[2:9]
    ]


def test_an_event_dimension_by_day_adds_up_to_its_panel_row(api: TestClient, key: str) -> None:
    rows = ask(api, key, query(metrics=["visitors", "pageviews"],
                               dimensions=["time:day", "event:page"],
                               include={"time_labels": True}))  # fmt: skip
    days = [r["dimensions"][0] for r in rows["results"]]
    assert days == sorted(days) and len(rows["meta"]["time_labels"]) == 30
    panel = api.get("/api/breakdown/pages", params={**q(), "limit": 3}).json()["rows"]
    for row in panel:
        mine = [r["metrics"] for r in rows["results"] if r["dimensions"][1] == row["page_path"]]
        assert [sum(m[0] for m in mine), sum(m[1] for m in mine)] == [
            row["visitors"], row["pageviews"]
        ]  # fmt: skip


def test_page_views_and_conversion_rates_of_several_visit_dimensions(
    api: TestClient, key: str
) -> None:
    """Under a page filter, a combination's page views are the page's own (as the
    cards count them); under a goal filter, its conversion rate is over the same
    combination's visitors."""
    page = api.get("/api/breakdown/pages", params={**q(), "limit": 1}).json()["rows"][0]
    paged = ask(
        api,
        key,
        query(
            metrics=["visitors", "pageviews"],
            dimensions=["visit:source", "visit:device"],
            filters=[["is", "event:page", [page["page_path"]]]],
        ),
    )
    for row in paged["results"][:3]:
        source, device = row["dimensions"]
        params = q(comparison="off", page=page["page_path"], source=_source_filter(source),
                   device=device.lower())  # fmt: skip
        cards = api.get("/api/summary", params=params).json()["metrics"]
        assert row["metrics"] == [cards["visitors"]["value"], cards["pageviews"]["value"]]
    goal = api.get("/api/breakdown/custom-events", params={**q(), "limit": 1}).json()["rows"][0]
    converted = ask(
        api,
        key,
        query(
            metrics=["visitors", "conversion_rate"],
            dimensions=["visit:device", "visit:os"],
            filters=[["is", "event:goal", [goal["event_name"]]]],
        ),
    )
    assert converted["results"]
    for row in converted["results"][:3]:
        device, os_name = row["dimensions"]
        params = q(comparison="off", event=goal["event_name"], device=device.lower(),
                   os=os_name or "(none)")  # fmt: skip
        cards = api.get("/api/summary", params=params).json()["metrics"]
        assert row["metrics"] == [
            cards["visitors"]["value"], round(cards["conversion_rate"]["value"] * 100, 1)
        ]  # fmt: skip


# -- Plausible's documented examples ------------------------------------------------------


def test_the_examples_in_docs_api_md_run(api: TestClient, key: str) -> None:
    """Every ``-d '{…}'`` body in docs/API.md is answered (or refused, where the text says
    so) as documented: the curl examples are this test's fixtures."""
    text = (ROOT / "docs" / "API.md").read_text()
    bodies = re.findall(r"/api/v2/query -H [^\n]*\n\s*-d '(\{.*?\})'", text, re.S)
    assert len(bodies) >= 6
    for raw in bodies:
        # the demo's dates are today's; the test lake's are March 2026
        raw = raw.replace("2026-11-01", FIRST_DAY.isoformat())
        raw = raw.replace("2026-11-30", LAST_DAY.isoformat())
        body = json.loads(raw.replace("example.com", SITE))
        answer = ask(api, key, body)
        assert set(answer) == {"results", "meta", "query"}
        for row in answer["results"]:
            assert len(row["metrics"]) == len(body["metrics"])
            assert len(row["dimensions"]) == len(body.get("dimensions", []))


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"metrics": ["visitors"], "date_range": "7d"}, "site_id"),
        (query(), "metrics"),
        (query(metrics=[]), "minimum of 1"),
        (query(metrics=["visitors", "visitors"]), "unique"),
        (query(metrics=["revenue"]), "Invalid metric"),
        (query(metrics="visitors"), "Expected Array"),
        (query(metrics=["percentage"]), "`percentage` can only be queried with a dimension"),
        (query(metrics=["conversion_rate"]), "event:goal"),
        (query(metrics=["bounce_rate"], dimensions=["event:goal"]), "Session metric"),
        (query(metrics=["visitors"], date_range="5d"), "Invalid date range"),
        (query(metrics=["visitors"], date_range=["2026-01-01T00:00:00Z", "x"]), "date"),
        (query(metrics=["visitors"], date_range=["2026-01-01T00:00:00Z", "2026-01-02"]), "date"),
        (query(metrics=["visitors"], dimensions=["visit:planet"]), "Invalid dimension"),
        (query(metrics=["visitors"], dimensions=["visit:region"]), "not supported"),
        (query(metrics=["visitors"], dimensions=["event:page", "event:goal", "visit:city"]),
         "two event-level dimensions"),
        (query(metrics=["visits"], dimensions=["event:goal", "visit:os"]), "Session metric"),
        (query(metrics=["visits"], dimensions=["event:page", "visit:os"]), "not supported"),
        (query(metrics=["percentage"], dimensions=["visit:os", "time:hour"]), "time dimension"),
        (query(metrics=["scroll_depth"], dimensions=["visit:source", "visit:os"]),
         "not supported"),
        (query(metrics=["visitors"], dimensions=["visit:os", "visit:os"]), "unique"),
        (query(metrics=["visitors"], dimensions=["time:day", "time:week", "visit:os"]),
         "one time dimension"),
        (query(metrics=["visitors"], dimensions=["event:name"]), "not supported"),
        (query(metrics=["visits"], dimensions=["event:hostname"]), "Session metric"),
        (query(metrics=["visits"], dimensions=["event:props:plan"]), "Session metric"),
        (query(metrics=["visitors"], filters=[["matches", "event:page", ["(a+)+$"]]]),
         "exponential"),
        (query(metrics=["visitors"], filters=[["matches", "event:page", ["(x)\\1"]]]),
         "not RE2"),
        (query(metrics=["visitors"], filters=[["matches", "event:page", ["["]]]),
         "not a regular expression"),
        (query(metrics=["visitors"], filters=[["is_not", "event:goal", ["Signup"]]]), "goal"),
        (query(metrics=["visitors"], filters=[["has_done", ["is", "visit:os", ["Linux"]]]]),
         "has_done takes"),
        (query(metrics=["visitors"], filters=[["or", []]]), "Invalid filter"),
        (query(metrics=["visitors"], filters=[["xor", [["is", "visit:os", ["Linux"]]]]]),
         "Invalid filter"),
        (query(metrics=["visitors"], filters=[["is", "visit:os", ["A"] * 21]]), "at most 20"),
        (query(metrics=["visitors"], filters=[["is", "visit:planet", ["Mars"]]]), "Invalid filter"),
        (query(metrics=["visitors"], include={"imports": True}), "imported"),
        (query(metrics=["visitors"], include={"time_labels": True}), "time dimension"),
        (query(metrics=["visitors"], pagination={"limit": 0}), "limit"),
        (query(metrics=["visitors"], dimensions=["visit:os"], order_by=[["visits", "asc"]]),
         "not a queried metric"),
        (query(metrics=["visitors"], dimensions=["visit:os", "visit:device"],
               order_by=[[["visitors"], "asc"]]), "not a queried metric"),
        (query(metrics=["visitors"], extra=1), "additional properties"),
        ({**query(metrics=["visitors"]), "site_id": "elsewhere.example"}, "site"),
        ([1, 2, 3], "Object"),
    ],
)
def test_what_cannot_be_answered_is_refused_with_the_reason(
    api: TestClient, key: str, body: Any, says: str
) -> None:
    answer = ask(api, key, body, 400)
    assert says.lower() in answer["error"].lower(), answer["error"]


def test_hostile_bodies_get_a_4xx_in_bounded_time(api: TestClient, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    deep: list[Any] = ["is", "visit:os", ["x"]]
    for _ in range(12):  # and-filters nested past the 8 levels allowed
        deep = ["and", [deep]]
    hostile = [
        b"{" * 100_000,  # too deep for any parser
        b"[" * 5000 + b"]" * 5000,
        b'{"site_id": "\xff\xfe"}',  # not UTF-8
        b"x" * 70_000,  # over the body limit
        json.dumps(query(metrics=["visitors"] * 10_000)).encode(),
        json.dumps(query(metrics=["visitors"], filters=[["is", "event:page", ["a" * 60_000]]]))
        .encode(),
        json.dumps(query(metrics=["visitors"], filters=[["matches", "event:page", ["(a+)+$"]]]))
        .encode(),
        json.dumps(query(metrics=["visitors"], filters=[deep])).encode(),
    ]
    for body in hostile:
        started = time.perf_counter()
        answer = api.post("/api/v2/query", content=body, headers=headers)
        assert 400 <= answer.status_code < 500, (answer.status_code, body[:60])
        assert time.perf_counter() - started < 10  # bounded, not a benchmark


def test_random_bodies_never_fail_the_server(api: TestClient, key: str) -> None:
    """A seeded fuzz of shapes: wrong types, unknown names, odd values in every field."""
    rng = random.Random(20261204)
    atoms: list[Any] = [None, True, 0, -1, 1.5, "", "visitors", "visit:source", "is", "and"]
    atoms += ["time:day", "7d", "day", [], {}, "x" * 300, "\x00", "2026-13-45"]

    def value(depth: int = 0) -> Any:
        if depth > 3 or rng.random() < 0.5:
            return rng.choice(atoms)
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(["a", "limit", "offset", "time_labels"]): value(depth + 1)}

    fields = ["site_id", "metrics", "date_range", "dimensions", "filters", "order_by",
              "include", "pagination"]  # fmt: skip
    statuses = set()
    for _ in range(300):
        body: dict[str, Any] = {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"}
        for name in rng.sample(fields, rng.randint(1, 3)):
            body[name] = value()
        answer = api.post("/api/v2/query", json=body, headers={"Authorization": f"Bearer {key}"})
        statuses.add(answer.status_code)
        assert answer.status_code in (200, 400), (answer.status_code, body, answer.text[:200])
    assert statuses == {200, 400}


# -- the command ---------------------------------------------------------------------------


def test_api_key_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ownstats.cli import main

    assert main(["api-key", "create", "--data", str(tmp_path), "--name", "grafana"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("ownstats_")
    assert main(["api-key", "list", "--data", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    key_id = key.split("_")[1]
    assert key_id in listed and "grafana" in listed and key not in listed
    assert main(["api-key", "revoke", "--data", str(tmp_path), key_id]) == 0
    assert main(["api-key", "revoke", "--data", str(tmp_path), key_id]) == 1
    assert KeyStore(tmp_path).check(f"Bearer {key}") == (401, "invalid API key")

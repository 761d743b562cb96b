"""A site's own time zone: days, hours, periods and comparisons on its clock.

Every figure is checked against the raw deduplicated events, converted to local time
here with the time zone database (not by the dashboard's SQL). The generated lake
holds events until the end of its last UTC day, after the pinned "now": as in
UTC mode, the current period counts whole days (nothing real comes after now) and
only the compared period is cut at the same local time. New York moves to
daylight time on 2026-03-08, inside the generated lake's last week; Kolkata is
UTC+05:30, half an hour off every UTC hour; Sydney is ahead of UTC, so its "today"
begins on the lake's previous UTC day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dashboard_support import DOMAINS, NOW
from starlette.testclient import TestClient

from ownstats.dashboard import build_app
from ownstats.dashboard.api_keys import KeyStore
from ownstats.engine import Engine
from ownstats.zones import time_zones

SITE = DOMAINS[0]
ZONES = ("America/New_York", "Asia/Kolkata", "Australia/Sydney")


@pytest.fixture(scope="module")
def events(engine: Engine) -> list[tuple[datetime, str, str]]:
    return [
        (moment, kind, visitor)
        for moment, kind, visitor in engine.query(
            "SELECT event_time, event_type, visitor_id FROM events_deduped "
            f"WHERE domain_name = '{SITE}'"
        ).rows
    ]


@pytest.fixture(scope="module", params=ZONES)
def zoned(request: pytest.FixtureRequest, engine: Engine) -> Iterator[tuple[str, TestClient]]:
    app = build_app(engine, now=lambda: NOW, time_zone=f"{SITE}={request.param}")
    with TestClient(app) as client:
        yield request.param, client


def get(client: TestClient, path: str, **params: str) -> dict[str, Any]:
    response = client.get(path, params={"site": SITE, **params})
    assert response.status_code == 200, response.text
    return response.json()


def local(moment: datetime, zone: str) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


def by_local_day(
    events: list[tuple[datetime, str, str]], zone: str, until: datetime
) -> dict[str, tuple[int, int]]:
    """(visitors, pageviews) per local day of the events before ``until`` (local).
    Visitors: distinct ids within the local day (an id lives one UTC day)."""
    visitors: dict[str, set[str]] = defaultdict(set)
    pageviews: Counter[str] = Counter()
    for moment, kind, visitor in events:
        wall = local(moment, zone)
        if wall >= until or kind == "engagement":
            continue
        day = wall.date().isoformat()
        visitors[day].add(visitor)
        pageviews[day] += kind == "pageview"
    return {day: (len(visitors[day]), pageviews[day]) for day in visitors}


def test_days_of_the_graph_are_the_sites_days(
    zoned: tuple[str, TestClient], events: list[tuple[datetime, str, str]]
) -> None:
    zone, client = zoned
    now = local(NOW, zone)
    body = get(client, "/api/timeseries", period="7d")
    assert body["meta"]["time_zone"] == zone
    assert body["meta"]["to"] == now.date().isoformat()
    truth = by_local_day(events, zone, midnight_after(now.date()))
    assert len(body["points"]) == 7
    for point in body["points"]:
        assert (point["visitors"], point["pageviews"]) == truth.get(point["bucket"], (0, 0))
    cards = get(client, "/api/summary", period="7d")["metrics"]
    assert cards["pageviews"]["value"] == sum(p["pageviews"] for p in body["points"])
    assert cards["visitors"]["value"] == sum(p["visitors"] for p in body["points"])


def test_hours_of_today_are_the_sites_hours(
    zoned: tuple[str, TestClient], events: list[tuple[datetime, str, str]]
) -> None:
    zone, client = zoned
    now = local(NOW, zone)
    body = get(client, "/api/timeseries", period="today")
    hours: Counter[int] = Counter()
    for moment, kind, _ in events:
        wall = local(moment, zone)
        if wall.date() == now.date() and kind == "pageview":
            hours[wall.hour] += 1
    assert [p["incomplete"] for p in body["points"]].index(True) == now.hour
    for point in body["points"][: now.hour + 1]:
        assert point["pageviews"] == hours[point["bucket"]], point
    assert all(p["pageviews"] is None for p in body["points"][now.hour + 1 :])


def test_today_is_compared_with_the_same_local_time_yesterday(
    zoned: tuple[str, TestClient], events: list[tuple[datetime, str, str]]
) -> None:
    zone, client = zoned
    now = local(NOW, zone)
    summary = get(client, "/api/summary", period="today")
    meta = summary["meta"]
    yesterday = (now.date() - timedelta(days=1)).isoformat()
    assert meta["previous_from"] == meta["previous_to"] == yesterday
    assert meta["previous_until"] == f"{yesterday}T{now:%H:%M}:00"
    whole = by_local_day(events, zone, midnight_after(now.date()))
    today = whole.get(now.date().isoformat(), (0, 0))
    before = by_local_day(events, zone, now - timedelta(days=1)).get(yesterday, (0, 0))
    metrics = summary["metrics"]
    assert (metrics["visitors"]["value"], metrics["pageviews"]["value"]) == today
    assert (metrics["visitors"]["previous"], metrics["pageviews"]["previous"]) == before


def test_filters_and_panels_count_the_same_local_days(
    zoned: tuple[str, TestClient], events: list[tuple[datetime, str, str]]
) -> None:
    zone, client = zoned
    start = date(2026, 3, 3)
    end = date(2026, 3, 9)
    period = {"period": "custom", "from": start.isoformat(), "to": end.isoformat()}
    pages = get(client, "/api/breakdown/pages", limit="1000", **period)["rows"]
    truth = by_local_day(events, zone, midnight_after(end))
    in_range = [v for d, v in truth.items() if start.isoformat() <= d <= end.isoformat()]
    assert sum(r["pageviews"] for r in pages) == sum(p for _, p in in_range)
    # a filter splits the same local days: its visits plus the others' are all visits
    summary = get(client, "/api/summary", **period)["metrics"]["visits"]["value"]
    mobile = get(client, "/api/summary", device="mobile", **period)["metrics"]
    rest = [
        get(client, "/api/summary", device=d, **period)["metrics"]["visits"]["value"]
        for d in ("desktop", "tablet")
    ]
    assert mobile["visits"]["value"] + sum(rest) == summary


@pytest.mark.parametrize("zone", ZONES)
def test_the_stats_apis_hours_are_the_sites_hours(
    zone: str, engine: Engine, events: list[tuple[datetime, str, str]], tmp_path: Path
) -> None:
    """``time:hour`` with a visit attribute: a local day's page views per local hour,
    labelled on the site's clock (Kolkata's hours are half past UTC's)."""
    keys = KeyStore(tmp_path, hourly_limit=100)
    key = keys.create("zone")
    app = build_app(engine, now=lambda: NOW, time_zone=f"{SITE}={zone}", api_keys=keys)
    day = date(2026, 3, 9)  # New York's first full day of daylight time
    body = {"site_id": SITE, "metrics": ["pageviews"], "date_range": [day.isoformat()] * 2,
            "dimensions": ["time:hour", "visit:device"]}  # fmt: skip
    with TestClient(app) as client:
        answer = client.post(
            "/api/v2/query", json=body, headers={"Authorization": f"Bearer {key}"}
        ).json()
    hours: Counter[str] = Counter()
    for moment, kind, _ in events:
        wall = local(moment, zone)
        if wall.date() == day and kind == "pageview":
            hours[f"{day.isoformat()} {wall.hour:02}:00:00"] += 1
    summed: Counter[str] = Counter()
    for row in answer["results"]:
        summed[row["dimensions"][0]] += row["metrics"][0]
    assert summed == hours and len(hours) > 12


def test_time_zone_setting() -> None:
    assert time_zones("") == (None, {})
    assert time_zones("Europe/Berlin") == ("Europe/Berlin", {})
    assert time_zones("UTC, shop.example=America/New_York") == (
        None,
        {"shop.example": "America/New_York"},
    )
    # a site may keep UTC under a default zone
    assert time_zones("Europe/Berlin,b.example=Etc/UTC") == ("Europe/Berlin", {"b.example": None})
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        time_zones("a.example=Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        time_zones("../../etc/passwd")

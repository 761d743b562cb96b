"""Every view's numbers on real Parquet + DuckDB equal an independent Python computation
of Plausible's definitions (docs/PROTOCOL.md)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from stream_processor.schema import ALL_COLUMN_NAMES

if TYPE_CHECKING:  # the fixtures' types; conftest is not importable under importlib mode
    from conftest import Dataset, Visit

    from ownstats.engine import Engine

Key = tuple[Any, ...]


def rows_by_key(engine: Engine, view: str, keys: list[str]) -> dict[Key, dict[str, Any]]:
    result = engine.query(f"SELECT * FROM {view}")
    out: dict[Key, dict[str, Any]] = {}
    for row in result.as_dicts():
        key = tuple(row[k] for k in keys)
        assert key not in out, f"{view}: duplicate row for {key}"
        out[key] = row
    return out


def assert_same(actual: dict[Key, dict[str, Any]], expected: dict[Key, dict[str, Any]]) -> None:
    assert set(actual) == set(expected)
    for key, want in expected.items():
        got = actual[key]
        for column, value in want.items():
            if isinstance(value, float):
                assert math.isclose(got[column], value, rel_tol=1e-9, abs_tol=1e-9), (
                    key,
                    column,
                )
            else:
                assert got[column] == value, (key, column, got[column], value)


def group(items: Iterable[Any], key: Callable[[Any], Key]) -> dict[Key, list[Any]]:
    out: dict[Key, list[Any]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def test_dataset_exercises_the_edge_cases(dataset: Dataset) -> None:
    assert len({e["event_id"] for e in dataset.raw}) == len(dataset.events)
    assert any(v.is_bounce for v in dataset.visits)
    assert any(not v.pageviews for v in dataset.visits)  # custom-event-only visits
    assert any(e["event_type"] == "engagement" for v in dataset.visits for e in v.events)
    per_visitor = group(dataset.visits, lambda v: (v.event_date, v.domain_name, v.visitor_id))
    assert any(len(vs) > 1 for vs in per_visitor.values())  # visitors come back
    assert any(
        b["event_time"] - a["event_time"] == 30 * 60 * 1000
        for v in dataset.visits
        for a, b in zip(v.events, v.events[1:], strict=False)
    )


def test_duplicates_are_stored_and_removed(dataset: Dataset, engine: Engine) -> None:
    stored = engine.query("SELECT count(*) FROM events").rows[0][0]
    assert stored > len(dataset.events)  # the at-least-once copies really are in the lake
    assert engine.query("SELECT count(*) FROM events_deduped").rows[0][0] == len(dataset.events)


def test_page_views(dataset: Dataset, engine: Engine) -> None:
    result = engine.query("SELECT * FROM page_views")
    assert result.columns == list(ALL_COLUMN_NAMES)
    ids = sorted(row[0] for row in result.rows)
    assert ids == sorted(e["event_id"] for e in dataset.events if e["event_type"] == "pageview")
    day = dataset.events[0]["event_date"]
    count = engine.query(f"select count(*) from page_views where event_date = '{day}'").rows[0][0]
    assert count == sum(
        1 for e in dataset.events if e["event_type"] == "pageview" and e["event_date"] == day
    )


def test_sessions(dataset: Dataset, engine: Engine) -> None:
    actual = rows_by_key(
        engine, "sessions", ["event_date", "domain_name", "visitor_id", "session_start"]
    )
    expected: dict[Key, dict[str, Any]] = {}
    for v in dataset.visits:
        first = v.first_real
        expected[(v.event_date, v.domain_name, v.visitor_id, ts(v.events[0]["event_time"]))] = {
            "session_end": ts(v.events[-1]["event_time"]),
            "pageviews": len(v.pageviews),
            "events": len(v.pageviews) + len(v.customs),
            "is_bounce": v.is_bounce,
            "duration_s": v.duration_s,
            "entry_page": v.entry_page,
            "exit_page": v.exit_page,
            "source": first["source"],
            "channel": first["channel"],
            "utm_campaign": first["utm_campaign"],
            "country_code": first["country_code"],
            "device_type": first["device_type"],
            "browser_name": first["browser_name"],
            "os_name": first["os_name"],
        }
    assert_same(actual, expected)


def _visit_stats(visits: list[Visit]) -> dict[str, Any]:
    pageviews = sum(len(v.pageviews) for v in visits)
    bounces = sum(v.is_bounce for v in visits)
    return {
        "visitors": len({v.visitor_id for v in visits}),
        "visits": len(visits),
        "pageviews": pageviews,
        "bounces": bounces,
        "bounce_rate": bounces / len(visits),
        "avg_visit_duration_s": sum(v.duration_s for v in visits) / len(visits),
        "total_visit_duration_s": float(sum(v.duration_s for v in visits)),
        "views_per_visit": pageviews / len(visits),
    }


def test_daily_stats(dataset: Dataset, engine: Engine) -> None:
    actual = rows_by_key(engine, "daily_stats", ["event_date", "domain_name"])
    expected = {
        key: _visit_stats(visits)
        for key, visits in group(dataset.visits, lambda v: (v.event_date, v.domain_name)).items()
    }
    assert_same(actual, expected)
    for row in actual.values():
        assert 0 <= row["bounce_rate"] <= 1


def test_hourly_stats(dataset: Dataset, engine: Engine) -> None:
    actual = rows_by_key(engine, "hourly_stats", ["event_date", "event_hour", "domain_name"])
    real = [e for e in dataset.events if e["event_type"] != "engagement"]
    expected = {
        key: {
            "visitors": len({e["visitor_id"] for e in evs}),
            "pageviews": sum(e["event_type"] == "pageview" for e in evs),
        }
        for key, evs in group(
            real, lambda e: (e["event_date"], ts(e["event_time"]).hour, e["domain_name"])
        ).items()
    }
    assert_same(actual, expected)


def test_top_pages(dataset: Dataset, engine: Engine) -> None:
    actual = rows_by_key(engine, "top_pages", ["event_date", "domain_name", "page_path"])
    by_page = group(dataset.events, lambda e: (e["event_date"], e["domain_name"], e["page_path"]))
    expected = {}
    for key, evs in by_page.items():
        pvs = [e for e in evs if e["event_type"] == "pageview"]
        if not pvs:
            continue
        engaged = sum(e["engagement_ms"] or 0 for e in evs if e["event_type"] == "engagement")
        deepest: dict[str, int] = {}  # each visitor's deepest scroll on the page
        for e in evs:
            if e["event_type"] == "engagement" and e["scroll_depth"] is not None:
                deepest[e["visitor_id"]] = max(deepest.get(e["visitor_id"], 0), e["scroll_depth"])
        expected[key] = {
            "visitors": len({e["visitor_id"] for e in pvs}),
            "pageviews": len(pvs),
            "avg_time_on_page_s": engaged / 1000 / len(pvs),
            "scroll_depth": sum(deepest.values()) / len(deepest) if deepest else None,
            "scroll_visitors": len(deepest),
        }
    assert_same(actual, expected)


def test_entry_and_exit_pages(dataset: Dataset, engine: Engine) -> None:
    keys = ["event_date", "domain_name", "page_path"]
    pageviews = {
        k: len(v)
        for k, v in group(
            (e for e in dataset.events if e["event_type"] == "pageview"),
            lambda e: (e["event_date"], e["domain_name"], e["page_path"]),
        ).items()
    }
    for view, attr, count in (
        ("entry_pages", "entry_page", "entries"),
        ("exit_pages", "exit_page", "exits"),
    ):
        visits = [v for v in dataset.visits if getattr(v, attr) is not None]
        expected = {}
        for key, vs in group(
            visits, lambda v, a=attr: (v.event_date, v.domain_name, getattr(v, a))
        ).items():
            expected[key] = {"visitors": len({v.visitor_id for v in vs}), count: len(vs)}
            if view == "entry_pages":
                expected[key]["bounce_rate"] = sum(v.is_bounce for v in vs) / len(vs)
            else:
                expected[key]["exit_rate"] = len(vs) / pageviews[key]
        assert_same(rows_by_key(engine, view, keys), expected)


@pytest.mark.parametrize(
    ("view", "column", "with_outcome"),
    [
        ("sources", "source", True),
        ("channels", "channel", True),
        ("campaigns", "utm_campaign", True),
        ("countries", "country_code", False),
        ("devices", "device_type", False),
        ("browsers", "browser_name", False),
        ("operating_systems", "os_name", False),
    ],
)
def test_visit_breakdowns(
    dataset: Dataset, engine: Engine, view: str, column: str, with_outcome: bool
) -> None:
    visits = dataset.visits
    if view == "campaigns":
        visits = [v for v in visits if v.first_real["utm_campaign"] is not None]
    expected = {}
    for key, vs in group(
        visits, lambda v: (v.event_date, v.domain_name, v.first_real[column])
    ).items():
        expected[key] = {"visitors": len({v.visitor_id for v in vs}), "visits": len(vs)}
        if with_outcome:
            expected[key]["bounce_rate"] = sum(v.is_bounce for v in vs) / len(vs)
            expected[key]["avg_visit_duration_s"] = sum(v.duration_s for v in vs) / len(vs)
    assert expected
    assert_same(rows_by_key(engine, view, ["event_date", "domain_name", column]), expected)


def test_custom_events_and_props(dataset: Dataset, engine: Engine) -> None:
    customs = [e for e in dataset.events if e["event_type"] == "event"]
    expected = {
        key: {"visitors": len({e["visitor_id"] for e in evs}), "events": len(evs)}
        for key, evs in group(
            customs, lambda e: (e["event_date"], e["domain_name"], e["event_name"])
        ).items()
    }
    assert_same(
        rows_by_key(engine, "custom_events", ["event_date", "domain_name", "event_name"]), expected
    )

    pairs = [(e, k, v) for e in customs for k, v in (e["props"] or {}).items()]
    expected = {
        key: {"visitors": len({e["visitor_id"] for e, _, _ in items}), "events": len(items)}
        for key, items in group(
            pairs,
            lambda p: (p[0]["event_date"], p[0]["domain_name"], p[0]["event_name"], p[1], p[2]),
        ).items()
    }
    assert expected
    keys = ["event_date", "domain_name", "event_name", "prop_key", "prop_value"]
    assert_same(rows_by_key(engine, "custom_event_props", keys), expected)


def test_hostnames_count_page_views_and_events_per_hostname(
    dataset: Dataset, engine: Engine
) -> None:
    sent = [e for e in dataset.events if e["event_type"] in ("pageview", "event")]
    expected = {
        key: {
            "visitors": len({e["visitor_id"] for e in evs}),
            "pageviews": sum(e["event_type"] == "pageview" for e in evs),
            "events": len(evs),
        }
        for key, evs in group(
            sent, lambda e: (e["event_date"], e["domain_name"], e.get("hostname"))
        ).items()
    }
    assert expected
    keys = ["event_date", "domain_name", "hostname"]
    assert_same(rows_by_key(engine, "hostnames", keys), expected)


def test_event_props_counts_page_views_and_events_with_the_property(
    dataset: Dataset, engine: Engine
) -> None:
    carrying = [e for e in dataset.events if e["event_type"] in ("pageview", "event")]
    pairs = [(e, k, v) for e in carrying for k, v in (e["props"] or {}).items()]
    expected = {
        key: {
            "visitors": len({e["visitor_id"] for e, _, _ in items}),
            "events": len(items),
            "pageviews": sum(e["event_type"] == "pageview" for e, _, _ in items),
        }
        for key, items in group(
            pairs, lambda p: (p[0]["event_date"], p[0]["domain_name"], p[1], p[2])
        ).items()
    }
    assert expected
    keys = ["event_date", "domain_name", "prop_key", "prop_value"]
    assert_same(rows_by_key(engine, "event_props", keys), expected)


def test_multi_day_range_sums_daily_uniques(dataset: Dataset, engine: Engine) -> None:
    domain = dataset.events[0]["domain_name"]
    got = engine.query(
        "SELECT sum(visitors), sum(visits) FROM daily_stats "
        f"WHERE event_date BETWEEN '2026-03-01' AND '2026-03-03' AND domain_name = '{domain}'"
    ).rows[0]
    per_day = group(
        (v for v in dataset.visits if v.domain_name == domain), lambda v: (v.event_date,)
    )
    assert got == (
        sum(len({v.visitor_id for v in vs}) for vs in per_day.values()),
        sum(len(vs) for vs in per_day.values()),
    )

"""Fixtures for the view tests: a generated, deterministic traffic dataset written through
``LakeSink`` to real Parquet, a DuckDB ``Engine`` over it, and the expected numbers
computed independently in plain Python (no SQL, no code under test)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ownstats.engine import Engine
from ownstats.lake import LakeSink
from stream_processor.schema import ALL_COLUMN_NAMES

DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")
DOMAINS = ("a.example", "shop.b.example")
GAP_MS = 30 * 60 * 1000
PAGES = ("/", "/pricing", "/blog/one", "/blog/two", "/docs", "/about", "/#/app")
SOURCES = (
    ("Google", "Organic Search", None),
    ("Direct / None", "Direct", None),
    ("Hacker News", "Organic Social", None),
    ("newsletter", "Email", "spring"),
    ("bing", "Paid Search", "brand"),
)
COUNTRIES = ("DE", "US", "FR", None)
DEVICES = (
    ("desktop", "Chrome", "Windows"),
    ("mobile", "Safari", "iOS"),
    ("tablet", "Firefox", "Android"),
)


def _ms(day: str, seconds: float) -> int:
    # whole milliseconds, so a gap of exactly 1800.0 s is exactly 1 800 000 ms
    midnight = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) * 1000
    return midnight + round(seconds * 1000)


def _event(**values: Any) -> dict[str, Any]:
    event: dict[str, Any] = dict.fromkeys(ALL_COLUMN_NAMES)
    event.update(values)
    return event


def generate(seed: int = 5) -> list[dict[str, Any]]:
    """Several days and sites; visitors with several visits split by gaps over 30 minutes,
    bounces (with and without a trailing engagement event), custom events with props,
    engagement-only stragglers, an exactly-30-minute gap, event-only visits."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    counter = 0

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return f"req-{counter:06d}"

    for day in DAYS:
        for domain in DOMAINS:
            for _ in range(rng.randint(25, 40)):
                visitor = f"{rng.getrandbits(64):016x}"
                t = round(rng.uniform(600, 20_000), 3)  # seconds after midnight
                for _visit in range(rng.choice((1, 1, 2, 3))):
                    source, channel, campaign = rng.choice(SOURCES)
                    device, browser, os_name = rng.choice(DEVICES)
                    country = rng.choice(COUNTRIES)
                    kind = rng.choices(
                        ("bounce", "pages", "event", "event_only"), weights=(4, 5, 2, 1)
                    )[0]
                    common = {
                        "domain_name": domain,
                        "visitor_id": visitor,
                        "event_date": day,
                        "country_code": country,
                        "device_type": device,
                        "browser_name": browser,
                        "os_name": os_name,
                        "channel": channel,
                    }
                    first = True
                    n_pages = {"bounce": 1, "pages": rng.randint(2, 6), "event": rng.randint(1, 3)}
                    for p in range(n_pages.get(kind, 0)):
                        page = rng.choice(PAGES)
                        events.append(
                            _event(
                                event_id=next_id(),
                                event_time=_ms(day, t),
                                event_type="pageview",
                                page_path=page,
                                page_id=f"pg{counter}",
                                source=source if first else "Direct / None",
                                utm_campaign=campaign if first else None,
                                **{k: v for k, v in common.items() if k != "channel"},
                                channel=channel if first else "Direct",
                            )
                        )
                        first = False
                        if rng.random() < 0.6:  # the page reports engaged time when left
                            t = round(t + rng.uniform(1, 20), 3)
                            events.append(
                                _event(
                                    event_id=next_id(),
                                    event_time=_ms(day, t),
                                    event_type="engagement",
                                    page_path=page,
                                    engagement_ms=rng.randint(500, 90_000),
                                    scroll_depth=rng.randint(0, 100),
                                    source="Direct / None",
                                    **common,
                                )
                            )
                        if kind == "event" and p == 0:
                            t = round(t + rng.uniform(1, 60), 3)
                            events.append(
                                _event(
                                    event_id=next_id(),
                                    event_time=_ms(day, t),
                                    event_type="event",
                                    event_name=rng.choice(("Signup", "Download")),
                                    props=rng.choice(
                                        ({"plan": "pro"}, {"plan": "free", "via": "nav"}, None, {})
                                    ),
                                    page_path=page,
                                    source="Direct / None",
                                    **common,
                                )
                            )
                        # within a visit: up to exactly 30 minutes (still the same visit)
                        gap = rng.choice((rng.uniform(5, 600), rng.uniform(600, 1790), 1800.0))
                        t = round(t + gap, 3)
                    if kind == "event_only":
                        events.append(
                            _event(
                                event_id=next_id(),
                                event_time=_ms(day, t),
                                event_type="event",
                                event_name="Outbound Link: Click",
                                props={"url": "https://x.example/"},
                                page_path=rng.choice(PAGES),
                                source=source,
                                utm_campaign=campaign,
                                **common,
                            )
                        )
                    if rng.random() < 0.1:  # straggler: engagement after the visit ended
                        t = round(t + rng.uniform(1801, 3000), 3)
                        events.append(
                            _event(
                                event_id=next_id(),
                                event_time=_ms(day, t),
                                event_type="engagement",
                                page_path="/",
                                engagement_ms=1234,
                                **common,
                            )
                        )
                    t = round(t + rng.uniform(1801, 7200), 3)  # next visit: gap over 30 min
                assert t < 86_400, "generator must keep visits inside their day"
    return events


# -- the independent reference (plain Python) ----------------------------------------


@dataclass
class Visit:
    event_date: str
    domain_name: str
    visitor_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pageviews(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event_type"] == "pageview"]

    @property
    def customs(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event_type"] == "event"]

    @property
    def first_real(self) -> dict[str, Any]:
        return next(e for e in self.events if e["event_type"] != "engagement")

    @property
    def is_bounce(self) -> bool:
        return len(self.pageviews) == 1 and not self.customs

    @property
    def duration_s(self) -> float:
        if self.is_bounce:
            return 0.0
        return (self.events[-1]["event_time"] - self.events[0]["event_time"]) / 1000

    @property
    def entry_page(self) -> str | None:
        return self.pageviews[0]["page_path"] if self.pageviews else None

    @property
    def exit_page(self) -> str | None:
        return self.pageviews[-1]["page_path"] if self.pageviews else None


def dedupe(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in events:
        key = (e["event_date"], e["event_id"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def visits_of(events: list[dict[str, Any]]) -> list[Visit]:
    by_visitor: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_visitor[(e["event_date"], e["domain_name"], e["visitor_id"])].append(e)
    visits: list[Visit] = []
    for key, evs in by_visitor.items():
        evs.sort(key=lambda e: (e["event_time"], e["event_id"]))
        current: Visit | None = None
        last = None
        for e in evs:
            if current is None or e["event_time"] - last > GAP_MS:
                current = Visit(*key)
                visits.append(current)
            current.events.append(e)
            last = e["event_time"]
    return [v for v in visits if any(e["event_type"] != "engagement" for e in v.events)]


@dataclass
class Dataset:
    data_dir: Path
    raw: list[dict[str, Any]]
    events: list[dict[str, Any]]  # deduplicated
    visits: list[Visit]


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    raw = generate()
    rng = random.Random(11)
    duplicates = [dict(e) for e in rng.sample(raw, len(raw) // 20)]
    data_dir = tmp_path_factory.mktemp("lake")
    # compaction would drop the copies; the views must cope with them in the lake
    sink = LakeSink(data_dir, max_buffer_rows=400, compact_threshold=1000)
    shuffled = list(raw)
    rng.shuffle(shuffled)  # arrival order is not event order
    for start in range(0, len(shuffled), 150):
        assert sink.put(shuffled[start : start + 150]) == []
    sink.flush()
    assert sink.put(duplicates) == []  # at-least-once: the same requests again, other files
    sink.close()
    events = dedupe(raw)
    return Dataset(data_dir=data_dir, raw=raw, events=events, visits=visits_of(events))


@pytest.fixture(scope="session")
def engine(dataset: Dataset) -> Iterator[Engine]:
    with Engine(dataset.data_dir) as eng:
        yield eng

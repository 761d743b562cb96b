"""Benchmark of the dashboard's queries on the local lake (DuckDB over Parquet).

Where it sits: after the lake and the views; it answers "is local mode fast enough for a
live dashboard?" (target: each panel query ≤ 300 ms on 1M events). It writes realistic
events straight to Parquet with pyarrow (the processor would take minutes for a
million), in the same layout LakeSink writes, including at-least-once duplicates, then
times each panel's Athena-dialect query through ``ownstats.engine.Engine``.

    .venv/bin/python bench/views_bench.py [--events 1000000] [--days 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ownstats.engine import Engine
from ownstats.lake import EVENTS_SCHEMA, partition_dir

DOMAINS = (("example.com", 0.7), ("docs.example.com", 0.2), ("shop.example.org", 0.1))
PAGES = ["/", "/pricing", "/about", "/contact", "/docs", "/signup", "/login"] + [
    f"/blog/post-{i}" for i in range(200)
]
PAGE_WEIGHTS = [30, 10, 4, 3, 12, 6, 8] + [40 / (i + 1) for i in range(200)]
SOURCES = (
    ("Direct / None", "Direct", None, 35),
    ("Google", "Organic Search", None, 30),
    ("Bing", "Organic Search", None, 4),
    ("Hacker News", "Organic Social", None, 5),
    ("Reddit", "Organic Social", None, 4),
    ("newsletter", "Email", "spring-sale", 6),
    ("google", "Paid Search", "brand", 5),
    ("github.com", "Referral", None, 6),
    ("ChatGPT", "AI Assistants", None, 5),
)
COUNTRIES = ("US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "NL", "ES", None)
DEVICES = (
    ("desktop", "Chrome", "Windows", 40),
    ("desktop", "Firefox", "Linux", 8),
    ("desktop", "Safari", "Mac", 15),
    ("mobile", "Safari", "iOS", 20),
    ("mobile", "Chrome", "Android", 14),
    ("tablet", "Safari", "iPadOS", 3),
)


def generate(data_dir: Path, n_events: int, days: int, seed: int = 1) -> int:
    """Write about ``n_events`` events over the ``days`` days ending today; return count."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    per_day = n_events // days
    written = 0
    for d in range(days):
        day = today - timedelta(days=days - 1 - d)
        cols: dict[str, list[Any]] = {name: [] for name in EVENTS_SCHEMA.names}
        written += _day(rng, day, per_day, cols)
        table = pa.Table.from_pydict(cols, schema=EVENTS_SCHEMA)
        directory = partition_dir(data_dir, day.isoformat())
        directory.mkdir(parents=True, exist_ok=True)
        # a partition as LakeSink leaves it between compactions: a few files
        step = -(-table.num_rows // 4)
        for i in range(4):
            pq.write_table(table.slice(i * step, step), directory / f"part-{i}.parquet")
    return written


def _day(rng: random.Random, day: date, target: int, cols: dict[str, list[Any]]) -> int:
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    now_ms = int(time.time() * 1000)
    src_w = [s[3] for s in SOURCES]
    dev_w = [d[3] for d in DEVICES]
    count = 0
    serial = 0
    if now_ms < midnight + 86_400_000:
        # today: only the share of the day's traffic that has happened yet (events after
        # now are never written, so a whole day's target is out of reach just after
        # midnight, and the loop would not end)
        shape, elapsed = random.Random(0), now_ms - midnight
        before = sum(shape.betavariate(2.2, 2) * 80_000_000 < elapsed for _ in range(4000))
        target = target * before // 4000
    while count < target:
        domain = rng.choices(DOMAINS, weights=[w for _, w in DOMAINS])[0][0]
        visitor = f"{rng.getrandbits(64):016x}"
        t = midnight + int(rng.betavariate(2.2, 2) * 80_000_000)
        device, browser, os_name, _ = rng.choices(DEVICES, weights=dev_w)[0]
        country = rng.choice(COUNTRIES)
        for _visit in range(rng.choice((1, 1, 1, 2, 3))):
            source, channel, campaign, _ = rng.choices(SOURCES, weights=src_w)[0]
            n_pages = 1 if rng.random() < 0.45 else rng.randint(2, 8)
            for p in range(n_pages):
                kinds = ["pageview"]
                if rng.random() < 0.5:
                    kinds.append("engagement")
                if rng.random() < 0.08:
                    kinds.append("event")
                page = rng.choices(PAGES, weights=PAGE_WEIGHTS)[0]
                for kind in kinds:
                    if t >= now_ms or t >= midnight + 86_400_000:
                        break
                    serial += 1
                    first = p == 0 and kind == "pageview"
                    row = {
                        "event_id": f"{day:%Y%m%d}-{serial:08d}",
                        "event_time": t,
                        "event_type": kind,
                        "event_name": "Signup" if kind == "event" else None,
                        "props": [("plan", rng.choice(("free", "pro")))]
                        if kind == "event"
                        else None,
                        "domain_name": domain,
                        "page_path": page,
                        "page_id": f"{rng.getrandbits(32):08x}",
                        "source": source if first else "Direct / None",
                        "channel": channel if first else "Direct",
                        "utm_campaign": campaign if first else None,
                        "browser_name": browser,
                        "os_name": os_name,
                        "device_type": device,
                        "country_code": country,
                        "visitor_id": visitor,
                        "engagement_ms": rng.randint(500, 120_000)
                        if kind == "engagement"
                        else None,
                    }
                    for name, values in cols.items():
                        values.append(row.get(name))
                    count += 1
                    if rng.random() < 0.01:  # at-least-once delivery: a stored copy
                        for name, values in cols.items():
                            values.append(row.get(name))
                        count += 1
                    t += rng.randint(2_000, 240_000)
            t += rng.randint(1_900_000, 6_000_000)
    return count


def last_second(sample: pa.Table, n: int, rng: random.Random, tag: str) -> pa.Table:
    """``n`` new events of the last second, as one flush of the lake writer holds them:
    visits going on (the visitors of ``sample``'s rows) and visitors just arriving, each
    event with a new event_id."""
    now_ms = int(time.time() * 1000)
    rows = sample.slice(rng.randrange(max(1, sample.num_rows - n)), n).to_pylist()
    for i, row in enumerate(rows):
        row["event_id"] = f"{tag}-{i:05d}"
        row["event_time"] = now_ms - rng.randrange(1000)
        if i % 2:  # a visitor just arriving
            row["visitor_id"] = f"{rng.getrandbits(64):016x}"
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


def write_flush(directory: Path, table: pa.Table, name: str) -> Path:
    """Write ``table`` as the lake writer does: a temporary name, then a rename."""
    tmp = directory / f".{name}.tmp"
    pq.write_table(table, tmp)
    final = directory / f"{name}.parquet"
    tmp.replace(final)
    return final


def panel_queries(domain: str, start: str, end: str, last_day: str) -> dict[str, str]:
    """The dashboard's panels, as Athena SQL (range = ``start``..``end``)."""
    where = f"event_date BETWEEN '{start}' AND '{end}' AND domain_name = '{domain}'"

    def breakdown(view: str, column: str, metric: str = "visitors") -> str:
        return (
            f"SELECT {column}, sum({metric}) AS {metric} FROM {view} WHERE {where} "
            f"GROUP BY {column} ORDER BY 2 DESC LIMIT 10"
        )

    return {
        "daily_stats (graph)": f"SELECT * FROM daily_stats WHERE {where} ORDER BY event_date",
        "daily_stats (totals)": (
            "SELECT sum(visitors), sum(visits), sum(pageviews), "
            "CAST(sum(bounces) AS double) / sum(visits), "
            "sum(total_visit_duration_s) / sum(visits) "
            f"FROM daily_stats WHERE {where}"
        ),
        "hourly_stats (1 day)": (
            f"SELECT event_hour, visitors, pageviews FROM hourly_stats "
            f"WHERE event_date = '{last_day}' AND domain_name = '{domain}' ORDER BY 1"
        ),
        "top_pages": breakdown("top_pages", "page_path", "pageviews"),
        "entry_pages": breakdown("entry_pages", "page_path", "entries"),
        "exit_pages": breakdown("exit_pages", "page_path", "exits"),
        "sources": breakdown("sources", "source"),
        "channels": breakdown("channels", "channel"),
        "campaigns": breakdown("campaigns", "utm_campaign"),
        "countries": breakdown("countries", "country_code"),
        "devices": breakdown("devices", "device_type"),
        "browsers": breakdown("browsers", "browser_name"),
        "operating_systems": breakdown("operating_systems", "os_name"),
        "custom_events": breakdown("custom_events", "event_name", "events"),
        "custom_event_props": breakdown("custom_event_props", "prop_value", "events"),
        "current_visitors": "SELECT * FROM current_visitors",
        "page_views count (1 day)": (
            f"SELECT count(*) FROM page_views WHERE event_date = '{last_day}'"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--range-days", type=int, nargs="+", default=[30, 7])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, help="keep the generated lake here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ownstats-bench-") as tmp:
        data_dir = args.data or Path(tmp)
        started = time.perf_counter()
        print(f"generating ~{args.events:,} events over {args.days} days …", flush=True)
        n = generate(data_dir, args.events, args.days)
        print(f"  {n:,} events written in {time.perf_counter() - started:.1f} s", flush=True)
        today = datetime.now(UTC).date()
        t0 = time.perf_counter()
        engine = Engine(data_dir)
        engine.query("SELECT count(*) FROM daily_stats")
        print(
            f"  engine start + first dashboard query (materialises all days): "
            f"{time.perf_counter() - t0:.2f} s"
        )
        # what a live dashboard pays when new events land in today's partition: the
        # default engine updates the day (incrementally) before it answers
        today_dir = partition_dir(data_dir, today.isoformat())
        sample = pq.read_table(next(today_dir.glob("*.parquet")))
        write_flush(today_dir, last_second(sample, 50, random.Random(2), "new"), "part-new")
        time.sleep(engine.max_staleness_s)
        t0 = time.perf_counter()
        engine.query("SELECT count(*) FROM daily_stats")
        print(
            f"  first query after a flush of 50 new events for today (updates one day): "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        worst = 0.0
        for range_days in args.range_days:
            start = (today - timedelta(days=range_days - 1)).isoformat()
            queries = panel_queries(DOMAINS[0][0], start, today.isoformat(), today.isoformat())
            print(f"\nrange {start} .. {today} ({range_days} days), domain {DOMAINS[0][0]}:")
            print(f"  {'panel':28} {'median ms':>10} {'min ms':>8} {'rows':>5}")
            for name, sql in queries.items():
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    result = engine.query(sql)
                    times.append((time.perf_counter() - t0) * 1000)
                median = statistics.median(times)
                worst = max(worst, median)
                print(f"  {name:28} {median:10.1f} {min(times):8.1f} {len(result.rows):5d}")
        engine.close()
        print(f"\nslowest panel (median): {worst:.0f} ms (target ≤ 300 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

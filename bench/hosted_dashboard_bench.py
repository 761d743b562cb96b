"""What one load of the hosted dashboard costs: Athena queries, bytes scanned, Lambda time.

Where it sits: next to ``views_bench.py`` (whose lake generator it reuses). It answers
"what does a page load cost on AWS, and how slow is the Lambda?" without an AWS account:

- queries: the hosted app (``ownstats.dashboard.hosted``) is driven with the requests
  of one first page load as the page makes them (the site list, one ``/api/page`` for
  the default 30-day view with each panel's first tab, the live counter and the
  freshness check) and the queries it sends are recorded; a reload within the cache
  TTL is replayed to show it sends none. The request count before ``/api/page``
  (every endpoint and panel on its own) is printed beside it.
- bytes: each recorded query runs on DuckDB over a generated month of Parquet with the
  views as plain (not materialised) views, which is how Athena reads the lake: partition
  pruning on ``event_date``, only the referenced columns. DuckDB's profiler reports the
  bytes it read from the files (``io.total_bytes_read``); Athena bills its own count of
  the same column chunks, at least 10 MB per query, $5 per TB. Each generated day is
  then rewritten by the lake compactor's own merge (sorted zstd, as on AWS after the
  day closes); ``--raw`` keeps the generator's four Snappy files a day instead.
- Lambda: a fresh interpreter times importing the handler module, the first API call
  (building the app) and warm calls, over a backend that answers instantly, so the
  figures are the function's own overhead, not Athena's (1-2 s per query, in parallel).
  This machine is not a 1 GB arm64 Lambda (about 0.6 vCPU): expect those to be slower.

    .venv/bin/python bench/hosted_dashboard_bench.py [--events 1000000] [--days 30]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SITE = "example.com"
ATHENA_MIN_BYTES = 10 * 1024 * 1024
ATHENA_USD_PER_TB = 5.0
#: API Gateway HTTP API, first 300 M requests a month
API_USD_PER_MILLION = 1.00
#: Lambda arm64 per GB-second, and per request
LAMBDA_USD_PER_GB_S = 0.0000133334
LAMBDA_USD_PER_REQUEST = 0.0000002
LAMBDA_GB = 1.0


#: the active tab of each of the page's panels on a first load (app.js, PANELS)
PAGE_PANELS = "pages,sources,countries,devices,custom-events,mediums"


#: every unfiltered period the page offers
PERIODS = ("today", "7d", "30d", "month", "last_month", "year", "12mo", "all")


def page_requests(period: str = "30d", **filters: str) -> list[tuple[str, dict[str, str]]]:
    """(path, query) of one first page load as app.js makes it: the site list and the
    one ``/api/page`` request (cards, graph, each panel's first tab, with ``live=1`` the
    live counter and the freshness check)."""
    state = {"site": SITE, "period": period, **filters}
    return [
        ("/api/sites", {}),
        ("/api/page", {**state, "panels": PAGE_PANELS, "live": "1"}),
    ]


def panel_requests() -> list[tuple[str, dict[str, str]]]:
    """The request shape before ``/api/page``: every endpoint and every panel on its own
    (an upper bound of the old page, which asked ~18 of them)."""
    from starlette.routing import Route

    from ownstats.dashboard import dashboard_routes
    from ownstats.dashboard.queries import BREAKDOWNS

    class NoBackend:
        def query(self, sql: str) -> Any:
            raise AssertionError("routes are only listed here")

    requests: list[tuple[str, dict[str, str]]] = [("/api/sites", {})]
    for route in dashboard_routes(NoBackend()):
        if not isinstance(route, Route) or not route.path.startswith("/api/"):
            continue
        if route.path in ("/api/sites", "/api/page", "/api/freshness"):
            continue
        if "{panel}" not in route.path:
            requests.append((route.path, {"site": SITE, "period": "30d"}))
            continue
        for panel in BREAKDOWNS:
            query = {"site": SITE, "period": "30d"}
            if panel == "event-props":
                query["prop_event"] = "Signup"
            requests.append((route.path.replace("{panel}", panel), query))
    requests.append(("/api/freshness", {"site": SITE}))
    return requests


def event(path: str, query: dict[str, str]) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event, as the JWT authorizer passes it on."""
    from urllib.parse import urlencode

    return {
        "version": "2.0", "routeKey": "GET /api/{proxy+}", "rawPath": path,
        "rawQueryString": urlencode(query), "headers": {"host": "api.example"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "bench"},
            "authorizer": {"jwt": {"claims": {"sub": "bench-user"}, "scopes": None}},
            "requestId": "bench", "stage": "$default",
        },
        "isBase64Encoded": False,
    }  # fmt: skip


class Recorder:
    """A backend that runs each query on the engine and profiles what it read."""

    def __init__(self, engine: Any) -> None:
        from ownstats.engine import translate

        self.engine = engine
        self.translate = translate
        self.queries: list[dict[str, Any]] = []
        self._profile = Path(tempfile.mkdtemp()) / "profile.json"
        # a page's parts run side by side; the profile file is one, so one at a time
        self._lock = threading.Lock()

    def query(self, sql: str) -> Any:
        with self._lock:
            return self._query(sql)

    def _query(self, sql: str) -> Any:
        result = self.engine.query(sql)
        # the engine's own connection holds the views; a cursor of it can profile
        cursor = self.engine._con.cursor()
        cursor.execute("PRAGMA enable_profiling='json'")
        cursor.execute(f"PRAGMA profiling_output='{self._profile}'")
        started = time.perf_counter()
        cursor.execute(self.translate(sql)).fetchall()
        elapsed = time.perf_counter() - started
        cursor.close()
        profile = json.loads(self._profile.read_text())
        self.queries.append(
            {"sql": sql, "bytes": profile["io"]["total_bytes_read"], "duckdb_s": elapsed}
        )
        return result


def compact(data_dir: Path) -> None:
    """Every partition as the compactor leaves a closed day: its merge, the raw files gone."""
    from lake_compactor.merge import merge
    from lake_compactor.policy import Policy, run_id

    for partition in sorted({p.parent for p in data_dir.rglob("*.parquet")}):
        if partition.parent.name != "events":
            continue
        inputs = sorted(partition.glob("*.parquet"))
        merged = partition.parent / f".merged-{partition.name}"
        with tempfile.TemporaryDirectory() as spill:
            merge(inputs, merged, policy=Policy(), temp_dir=Path(spill))
        for path in inputs:
            path.unlink()
        # named as the compactor names a closed day's output (policy._OUTPUT_NAME)
        run = run_id(time.time(), "be0c0000")
        for number, path in enumerate(sorted(merged.iterdir())):
            path.rename(partition / f"compacted-day-{run}-{number:03}.parquet")
        merged.rmdir()


class CountingStore:
    """The lake store as the function sees S3: every GET, LIST and byte counted."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.gets = self.lists = self.bytes = 0

    def list(self, prefix: str) -> Any:
        self.lists += 1
        return self.store.list(prefix)

    def get_json(self, key: str) -> Any:
        self.gets += 1
        document = self.store.get_json(key)
        self.bytes += len(json.dumps(document)) if document else 0
        return document

    def fetch(self, key: str, directory: Path) -> Path:
        import shutil

        self.gets += 1
        path = self.store.fetch(key, directory)
        self.bytes += Path(path).stat().st_size
        # a local store hands back the lake's own file; S3 gives a copy the caller may move
        copy = directory / f"{time.perf_counter_ns()}.parquet"
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        return copy


class NoAthena:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def query(self, sql: str) -> Any:
        self.asked.append(sql)
        from ownstats.results import QueryResult

        return QueryResult(["x"], [])


def measure_rollups(events: int, days: int, zone: str = "") -> dict[str, Any]:
    """The page served by the function's own engine (``lake_backend``) over the
    compactor's rollups: per period, a cold load (empty /tmp) and a warm one. With
    ``zone``, the site on that clock instead: before the compactor rolls its local
    days up (every panel from events, Athena above the load limit), and after."""
    from views_bench import generate

    from lake_compactor.roll_up import roll_up
    from lake_compactor.store import LocalStore

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        out["events"] = generate(lake, events, days)
        compact(lake)
        started = time.perf_counter()
        report = roll_up(LocalStore(lake), workdir=Path(tmp) / "work")
        out["rollup_all_s"] = time.perf_counter() - started
        out["rollup_days"] = len(report.days)
        out["rollup_mb"] = report.bytes / 1e6
        # the hourly run of a day: today's objects changed (a new Firehose file)
        today_dir = max((lake / "events").iterdir())
        newest = max(today_dir.glob("*.parquet"))
        newest.rename(newest.with_name("late-" + newest.name))
        started = time.perf_counter()
        roll_up(LocalStore(lake), workdir=Path(tmp) / "work")
        out["rollup_day_s"] = time.perf_counter() - started
        # and Firehose has delivered since: today's rollups are an older state of today,
        # so the function computes today from its events, as it mostly has to on AWS
        late = next(today_dir.glob("late-*.parquet"))
        late.rename(late.with_name("later-" + late.name.removeprefix("late-")))
        if not zone:
            out["periods"] = page_loads(lake, Path(tmp), (*PERIODS, "30d source=Google"))
            return out
        out["zoned_before"] = page_loads(lake, Path(tmp), PERIODS, zone)
        started = time.perf_counter()
        report = roll_up(LocalStore(lake), workdir=Path(tmp) / "work", zones=zone)
        out["zoned_rollup_s"] = time.perf_counter() - started
        out["zoned_days"] = len(report.days)
        out["zoned_mb"] = report.bytes / 1e6
        # the hourly run again, after one more delivery for today
        newest = max(today_dir.glob("*.parquet"))
        newest.rename(newest.with_name("zlate-" + newest.name))
        started = time.perf_counter()
        roll_up(LocalStore(lake), workdir=Path(tmp) / "work", zones=zone)
        out["zoned_day_s"] = time.perf_counter() - started
        late = next(today_dir.glob("zlate-*.parquet"))
        late.rename(late.with_name("zlater-" + late.name.removeprefix("zlate-")))
        out["periods"] = page_loads(lake, Path(tmp), (*PERIODS, "30d source=Google"), zone)
    return out


def page_loads(
    lake: Path, tmp: Path, periods: Sequence[str], zone: str = ""
) -> dict[str, Any]:
    """Each period's first page load over ``lake``: cold (empty cache), then warm;
    ``zone``: every site on that clock (``-c time_zone``)."""
    from mangum import Mangum

    from lake_compactor.store import LocalStore
    from ownstats.dashboard.hosted import RoutedBackend, build_hosted_app
    from ownstats.dashboard.lake_backend import LakeBackend

    minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    found: dict[str, Any] = {}
    for period in periods:
        name, _, filtered = period.partition(" ")
        filters = dict([filtered.split("=", 1)]) if filtered else {}
        store = CountingStore(LocalStore(lake))
        athena = NoAthena()
        cache = tmp / f"cache-{zone.replace('/', '-')}-{len(found)}"
        fast = LakeBackend(store, cache, today=minute.date, zones=zone)
        routed = RoutedBackend(fast, athena)
        handler = Mangum(
            build_hosted_app(routed, [SITE, "docs.example.com", "shop.example.org"],
                             cache_ttl_s=0, now=lambda: minute, time_zone=zone),
            lifespan="off",
        )  # fmt: skip
        loads = []
        for _ in range(3):  # cold (empty cache), then warm
            before = (store.gets, store.lists, store.bytes)
            fast._checked = float("-inf")  # each load re-reads the index and listing
            timer = time.perf_counter()
            statuses = [handler(event(path, query), None)["statusCode"]
                        for path, query in page_requests(name, **filters)]  # fmt: skip
            loads.append({
                "ms": (time.perf_counter() - timer) * 1000,
                "gets": store.gets - before[0], "lists": store.lists - before[1],
                "mb": (store.bytes - before[2]) / 1e6,
                "non_200": [x for x in statuses if x != 200],
            })  # fmt: skip
        found[period] = {
            "cold": loads[0], "warm": loads[2], "athena": len(athena.asked),
            "answered": routed.answered, "loaded_days": sorted(fast._loaded),
            "older_days": sorted(fast.older_read), "asked": athena.asked,
            "tail": fast.tail_answered, "cuts": fast.cuts_read,
            "now": fast.as_of(minute), "zoned": fast.zoned_read,
        }  # fmt: skip
    return found


def simulate_days(
    con: Any,
    lake: Path,
    index: dict[str, Any],
    key_of: Any,
    template: str,
    targets: Sequence[str],
) -> None:
    """Every rolled-up view's rows of day ``template`` copied under each day of
    ``targets`` into the month objects ``key_of(view, month)`` names (replacing their
    rows of those days), each object named in ``index``."""
    from lake_compactor.roll_up import _md5
    from lake_compactor.rollups import read_rollups, rollup_views, sql_string

    for view in rollup_views():
        source = lake / key_of(view, template[:7])
        if not source.is_file():  # no rows that day (the compactor writes no object)
            continue
        rows_of = f"{read_rollups(sql_string(str(source)))} WHERE event_date = '{template}'"
        for month in sorted({d[:7] for d in targets}):
            dates = ", ".join(f"({sql_string(d)})" for d in targets if d.startswith(month))
            parts = [
                f"SELECT r.* REPLACE (d.day AS event_date) FROM (SELECT * FROM {rows_of}) AS r "
                f"CROSS JOIN (VALUES {dates}) AS d(day)"
            ]
            target = lake / key_of(view, month)
            if target.is_file():  # (the compactor writes no object without rows)
                parts.append(
                    f"SELECT * FROM {read_rollups(sql_string(str(target)))} "
                    f"WHERE event_date NOT IN (SELECT day FROM (VALUES {dates}) AS d(day))"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name("staged.parquet")
            con.execute(
                f"COPY ({' UNION ALL BY NAME '.join(parts)}) TO {sql_string(str(staged))} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            staged.replace(target)
            key = target.relative_to(lake).as_posix()
            rows = con.execute(f"SELECT count(*) FROM '{target}'").fetchone()[0]
            index["files"][key] = {"size": target.stat().st_size, "md5": _md5(target),
                                   "rows": rows}  # fmt: skip


def simulated_zone(index: dict[str, Any], zone: str, days: int) -> tuple[Any, str, list[str]]:
    """What ``measure_scale`` copies on ``zone``'s clock: (the month keys, local yesterday,
    the earlier local days of the month), and those days named in the zone's index
    entry with the signature a reader computes for them (their UTC days are not listed)."""
    from lake_compactor.rollups import zoned_month_key
    from lake_compactor.zoned_rollups import signature

    entry = index["zones"][zone]
    whole = sorted(d for d, meta in entry["days"].items() if not meta.get("until"))
    template = whole[-1]
    targets = [
        (date.fromisoformat(template) - timedelta(days=n)).isoformat() for n in range(1, days)
    ]
    until = {d: m["until"] for d, m in index["days"].items() if m.get("until")}
    # (the listed UTC days' signatures are the reader's: a copy is trusted as held)
    listed = {d: m["signature"] for d, m in index["days"].items()}
    for day in targets:
        entry["days"][day] = {"signature": signature(zone, entry["sites"], day, listed, until)}
    return (lambda view, month: zoned_month_key(zone, view, month)), template, targets


def measure_scale(month_events: int, days: int = 30, zone: str = "") -> dict[str, Any]:
    """A month at the rate of ``month_events``, simulated: yesterday's and today's
    events in full (the generator's days, four files each), their rollups computed by
    the compactor, and the other days' rollups copies of today's rows under their own
    dates (their events are not written: an unfiltered page reads a closed day's events
    only for the comparison's cut of one day, which falls on yesterday for "today", and
    a filtered view at this size goes to Athena by design). Then one more delivery for
    today, as between two compactor runs on AWS. ``zone``: every site on that clock; the
    compactor rolls its local days up too, and the local days before local yesterday
    are copies of its rows."""
    import duckdb
    from views_bench import generate

    from lake_compactor.roll_up import roll_up
    from lake_compactor.rollups import INDEX_KEY, month_key
    from lake_compactor.store import LocalStore

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        out["events"] = generate(lake, 2 * (month_events // days), 2)
        today_dir = max((lake / "events").iterdir())
        out["today_mb"] = sum(p.stat().st_size for p in today_dir.glob("*.parquet")) / 1e6
        started = time.perf_counter()
        roll_up(LocalStore(lake), workdir=Path(tmp) / "work", zones=zone)
        out["rollup_day_s"] = time.perf_counter() - started
        index = json.loads((lake / INDEX_KEY).read_text())
        today = datetime.fromisoformat(today_dir.name.split("=", 1)[1]).date()
        others = [(today - timedelta(days=n)).isoformat() for n in range(2, days)]
        con = duckdb.connect()
        simulate_days(con, lake, index, month_key, today.isoformat(), others)
        if zone:
            simulate_days(con, lake, index, *simulated_zone(index, zone, days))
        con.close()
        for day in others:
            index["days"][day] = {"signature": "simulated: no events listed"}
        (lake / INDEX_KEY).write_text(json.dumps(index))
        out["rollup_mb"] = sum(m["size"] for m in index["files"].values()) / 1e6
        # what Firehose has delivered since: one object a minute for the last ten minutes,
        # each a minute of traffic; everything else was written an hour ago or more
        import os
        import random

        import pyarrow.parquet as pq
        from views_bench import last_second, write_flush

        hour_ago = time.time() - 3600
        for path in (lake / "events").rglob("*.parquet"):
            os.utime(path, (hour_ago, hour_ago))
        sample = pq.read_table(min(today_dir.glob("*.parquet")))
        rng = random.Random(7)
        per_minute = max(1, month_events // (days * 24 * 60))
        for minute in range(10):
            flush = last_second(sample, min(per_minute, sample.num_rows), rng, f"late{minute}")
            path = write_flush(today_dir, flush, f"later-{minute:02}")
            at = time.time() - 60 * (9 - minute)
            os.utime(path, (at, at))
        out["delivered"] = 10 * min(per_minute, sample.num_rows)
        out["periods"] = page_loads(lake, Path(tmp), PERIODS, zone)
    return out


def _billed(scanned: int) -> int:
    """What Athena bills for a query that read ``scanned`` bytes: 10 MB at least, whole MB."""
    return math.ceil(max(scanned, ATHENA_MIN_BYTES) / 1024 / 1024) * 1024 * 1024


def measure_queries(events: int, days: int, raw: bool) -> dict[str, Any]:
    from mangum import Mangum
    from views_bench import generate

    from ownstats.dashboard.hosted import build_hosted_app
    from ownstats.engine import Engine

    with tempfile.TemporaryDirectory() as tmp:
        written = generate(Path(tmp), events, days)
        if not raw:
            compact(Path(tmp))
        lake_bytes = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
        # profiling needs PRAGMAs that the engine's locked configuration refuses
        # (ownstats.engine._confine, for `ownstats query`); this bench alone lifts it
        import ownstats.engine as engine_module

        engine_module._confine = lambda con, data_dir: None
        with Engine(tmp, materialize=False) as engine:
            recorder = Recorder(engine)
            # Here every query runs twice (once profiled), one after the other, so a page
            # load takes longer than the 60 s TTL it has on AWS, where its queries run side
            # by side in ~2 s: the TTL is stretched and the clock pinned to one minute, so
            # the replay shows what a reload within the TTL sends.
            minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
            app = build_hosted_app(
                recorder, [SITE, "docs.example.com", "shop.example.org"],
                cache_ttl_s=3600, now=lambda: minute,
            )  # fmt: skip
            handler = Mangum(app, lifespan="off")
            statuses = []
            for path, query in page_requests():
                statuses.append(handler(event(path, query), None)["statusCode"])
            first = list(recorder.queries)
            for path, query in page_requests():  # the reload, within the cache TTL
                handler(event(path, query), None)
            reloaded = [q["sql"] for q in recorder.queries[len(first) :]]
            # each period's first load on a fresh instance (no memory cache)
            per_period = {}
            for period in PERIODS:
                start = len(recorder.queries)
                fresh = Mangum(
                    build_hosted_app(recorder, [SITE, "docs.example.com", "shop.example.org"],
                                     cache_ttl_s=3600, now=lambda: minute),
                    lifespan="off",
                )  # fmt: skip
                for path, query in page_requests(period):
                    fresh(event(path, query), None)
                issued = recorder.queries[start:]
                per_period[period] = {
                    "queries": len(issued),
                    "billed_mb": sum(_billed(q["bytes"]) for q in issued) / 1e6,
                }
    billed = [_billed(q["bytes"]) for q in first]
    return {
        "per_period": per_period,
        "events": written,
        "lake_mb": lake_bytes / 1e6,
        "requests": len(statuses),
        "non_200": [s for s in statuses if s != 200],
        "queries": first,
        "reload_queries": reloaded,
        "scanned_mb": sum(q["bytes"] for q in first) / 1e6,
        "billed_mb": sum(billed) / 1e6,
        "athena_usd": sum(billed) / 1e12 * ATHENA_USD_PER_TB,
    }


_COLD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from ownstats.dashboard import hosted
from mangum import Mangum
import ownstats.dashboard.lake_backend  # the function's own engine (DuckDB), on a cold start
t1 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from hosted_dashboard_bench import event, page_requests
from ownstats.engine import QueryResult
import sqlglot

class Instant:
    def query(self, sql):
        cols = sqlglot.parse_one(sql, read="athena").named_selects
        if sql.startswith("SELECT domain_name") and "GROUP BY domain_name" in sql:
            return QueryResult(cols, [tuple("example.com" if c == "domain_name" else "2026-01-01"
                                            for c in cols)])
        return QueryResult(cols, [])

requests = page_requests()
t2 = time.perf_counter()
handler = Mangum(hosted.build_hosted_app(Instant(), ["example.com"]), lifespan="off")
assert handler(event("/api/summary", {"site": "example.com"}), None)["statusCode"] == 200
t3 = time.perf_counter()
misses = []
for path, query in requests:
    s = time.perf_counter()
    handler(event(path, query), None)
    misses.append(time.perf_counter() - s)
hits = []
for path, query in requests:
    s = time.perf_counter()
    handler(event(path, query), None)
    hits.append(time.perf_counter() - s)
print(json.dumps({"import_s": t1 - t0, "first_call_s": t3 - t2, "miss_s": misses, "hit_s": hits}))
"""


def measure_lambda(runs: int) -> dict[str, Any]:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _COLD_CHILD, str(Path(__file__).resolve().parent)],
            capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "import_s": statistics.median(s["import_s"] for s in samples),
        "first_call_s": statistics.median(s["first_call_s"] for s in samples),
        "miss_s": statistics.median(x for s in samples for x in s["miss_s"]),
        "hit_s": statistics.median(x for s in samples for x in s["hit_s"]),
    }


def print_loads(periods: dict[str, Any]) -> None:
    print("  period      Athena  cold ms  GETs  LIST  MB    warm ms  GETs  LIST  MB   days loaded")
    for period, f in periods.items():
        c, w = f["cold"], f["warm"]
        failed = c["non_200"] + w["non_200"]
        notes = [",".join(d[5:] for d in f["loaded_days"])]
        if f["older_days"]:
            notes.append("older rollups: " + ",".join(d[5:] for d in f["older_days"]))
        if f["tail"]:
            notes.append(f"from the newest objects: {f['tail']} statements")
        if f["cuts"]:
            notes.append(f"as of {f['now']:%H:%M}, {f['cuts']} cuts from cut visits")
        if f.get("zoned"):
            notes.append(f"{f['zoned']} statements' whole local days from zoned rollups")
        if failed:
            notes.append(f"non-200: {failed}")
        print(f"  {period:10s} {f['athena']:6d} {c['ms']:8.0f} {c['gets']:5d} {c['lists']:5d} "
              f"{c['mb']:5.2f} {w['ms']:8.0f} {w['gets']:5d} {w['lists']:5d} {w['mb']:5.2f}   "
              f"{'; '.join(notes)}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters to time")
    parser.add_argument("--raw", action="store_true", help="skip the compaction of each day")
    parser.add_argument(
        "--rollups-only",
        action="store_true",
        help="only the page served from rollups (skip Athena's figures)",
    )
    parser.add_argument(
        "--time-zone",
        default="",
        help="the sites on this clock (-c time_zone): their page before and after the "
        "compactor rolls up its local days (e.g. America/New_York)",
    )
    parser.add_argument(
        "--month-events",
        type=int,
        help="instead: a month at this rate, today's events in full and the other days' "
        "rollups simulated (e.g. 100000000)",
    )
    args = parser.parse_args(argv)

    if args.month_events:
        s = measure_scale(args.month_events, args.days, args.time_zone)
        clock = f" on {args.time_zone}'s clock" if args.time_zone else ""
        print(
            f"AT {args.month_events:,} EVENTS A MONTH{clock} (simulated): yesterday and today "
            f"{s['events']:,} events (today {s['today_mb']:.1f} MB of Parquet; their rollups "
            f"in {s['rollup_day_s']:.1f} s), {args.days - 2} other days as rollups only; "
            f"{s['rollup_mb']:.2f} MB of rollups; then {s['delivered']:,} events delivered "
            "in the last 10 minutes, one object a minute"
        )
        print_loads(s["periods"])
        for period, f in s["periods"].items():
            for sql in f["asked"]:
                print(f"  {period}: Athena asked {' '.join(sql.split())[:100]}")
        return 0

    r = measure_rollups(args.events, args.days, args.time_zone)
    print(
        f"AFTER (rollups): {r['events']:,} events over {args.days} days; the compactor "
        f"rolled up {r['rollup_days']} days in {r['rollup_all_s']:.1f} s "
        f"({r['rollup_mb']:.2f} MB of rollups), one changed day in {r['rollup_day_s']:.2f} s"
    )
    if args.time_zone:
        print(f"ON {args.time_zone}'s CLOCK, BEFORE its local days are rolled up:")
        print_loads(r["zoned_before"])
        print(
            f"AFTER: the compactor rolled up {r['zoned_days']} local days in "
            f"{r['zoned_rollup_s']:.1f} s ({r['zoned_mb']:.2f} MB), a run after one more "
            f"delivery for today in {r['zoned_day_s']:.2f} s (both steps)"
        )
    print_loads(r["periods"])
    if args.rollups_only:
        return 0

    q = measure_queries(args.events, args.days, args.raw)
    layout = "raw Snappy, 4 files a day" if args.raw else "compacted zstd"
    print(f"lake: {q['events']:,} events over {args.days} days, {q['lake_mb']:.1f} MB Parquet "
          f"({layout})")  # fmt: skip
    print("BEFORE (Athena for every query):")
    print(f"one page load: {q['requests']} API requests (Lambda invocations; before "
          f"/api/page: {len(panel_requests())}), {len(q['queries'])} Athena queries"
          f" (non-200 answers: {q['non_200'] or 'none'})")  # fmt: skip
    for item in sorted(q["queries"], key=lambda i: -i["bytes"]):
        print(f"  {item['bytes'] / 1e6:8.2f} MB  {item['duckdb_s'] * 1000:6.0f} ms  "
              f"{' '.join(item['sql'].split())[:90]}")  # fmt: skip
    print(f"read: {q['scanned_mb']:.1f} MB; billed with the 10 MB minimum: {q['billed_mb']:.0f} MB"
          f" = ${q['athena_usd']:.5f} per uncached page load")  # fmt: skip
    print(f"reload within the cache TTL: {len(q['reload_queries'])} Athena queries")
    for sql in q["reload_queries"]:
        print(f"  again: {' '.join(sql.split())[:100]}")
    requests = q["requests"]

    lam = measure_lambda(args.runs)
    print(f"lambda (in-process, instant backend, median of {args.runs} fresh interpreters):")
    print(f"  import of the handler module: {lam['import_s'] * 1000:.0f} ms")
    print(f"  first API call (builds the app): {lam['first_call_s'] * 1000:.0f} ms")
    print(f"  warm call, query not cached: {lam['miss_s'] * 1000:.1f} ms; "
          f"cached: {lam['hit_s'] * 1000:.1f} ms")  # fmt: skip
    api_usd = requests * API_USD_PER_MILLION / 1e6
    # each request waits for its Athena query (~1.5 s) when not cached; cached, ~10 ms
    lambda_usd = requests * (LAMBDA_USD_PER_REQUEST + 1.5 * LAMBDA_GB * LAMBDA_USD_PER_GB_S)
    print(f"per uncached page load: API Gateway ${api_usd:.6f}, Lambda ~${lambda_usd:.6f} "
          f"(1.5 s per request at 1 GB), Athena ${q['athena_usd']:.5f}")  # fmt: skip
    print("side by side, one first page load (2 requests = 2 Lambda invocations either way):")
    print(
        "  period      before: Athena queries  billed MB  $/load   after: Athena  warm ms  "
        "cold ms  S3 GETs (cold/warm)"
    )
    for period in PERIODS:
        b, a = q["per_period"][period], r["periods"][period]
        usd = b["billed_mb"] / 1e6 * ATHENA_USD_PER_TB
        print(
            f"  {period:10s} {b['queries']:22d} {b['billed_mb']:10.0f} {usd:8.5f}"
            f"  {a['athena']:13d} {a['warm']['ms']:8.0f} {a['cold']['ms']:8.0f}"
            f"  {a['cold']['gets'] + a['cold']['lists']}/{a['warm']['gets'] + a['warm']['lists']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

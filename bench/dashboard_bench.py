"""Benchmark of the dashboard API on a generated 1M-event lake (local mode, DuckDB).

Where it sits: on top of bench/views_bench.py (whose fast Parquet generator it
imports) and the dashboard package. It answers "does every panel the page loads
answer within 300 ms on a million events?" by timing each HTTP endpoint the page
calls, through the full ASGI stack (Starlette's TestClient), for several states of
the page: every period (realtime by minute, today and yesterday by hour, month to
date, last month, year to date, 12 months, all time …), both comparisons, and
filtered views (including a partial day compared with the same part of yesterday,
which recomputes that part's visits from its events).

    .venv/bin/python bench/dashboard_bench.py [--events 1000000] [--days 30] [--runs 5]
        [--data DIR]   # keep (or reuse, if it already holds a lake) the generated lake
        [--time-zone America/New_York]   # the site's own clock: views from events
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from starlette.testclient import TestClient  # noqa: E402
from views_bench import DOMAINS, generate  # noqa: E402

from ownstats.dashboard import build_app  # noqa: E402
from ownstats.engine import Engine  # noqa: E402
from ownstats.lake import events_dir  # noqa: E402

SITE = DOMAINS[0][0]
PANELS = (
    "pages",
    "entry-pages",
    "exit-pages",
    "sources",
    "channels",
    "campaigns",
    "countries",
    "cities",
    "devices",
    "browsers",
    "operating-systems",
    "custom-events",
)
TARGET_MS = 300.0


def page_calls(state: dict[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
    """Every request the page makes for one state (what app.js fetches), by label."""
    calls = {
        "current-visitors": ("/api/current-visitors", {"site": state["site"]}),
        "summary": ("/api/summary", state),
        "timeseries": ("/api/timeseries", state),
    }
    for panel in PANELS:
        calls[panel] = (f"/api/breakdown/{panel}", state)
    calls["event-props (expand)"] = (
        "/api/breakdown/event-props",
        {**state, "prop_event": "Signup", "limit": "50"},
    )
    calls["countries map"] = ("/api/breakdown/countries", {**state, "limit": "300"})
    calls["pages details (sorted)"] = (
        "/api/breakdown/pages",
        {**state, "limit": "100", "order_by": "avg_time_on_page_s", "order": "desc"},
    )
    calls["pages details (search)"] = ("/api/breakdown/pages", {**state, "search": "blog"})
    calls["pages CSV"] = ("/api/breakdown/pages", {**state, "format": "csv"})
    return calls


STATES: dict[str, dict[str, str]] = {
    "realtime (by minute)": {"site": SITE, "period": "realtime"},
    "today (hourly)": {"site": SITE, "period": "today"},
    "yesterday": {"site": SITE, "period": "yesterday"},
    "7 days": {"site": SITE, "period": "7d"},
    "30 days": {"site": SITE, "period": "30d"},
    "30 days vs last year": {"site": SITE, "period": "30d", "comparison": "year_over_year"},
    "month to date": {"site": SITE, "period": "month"},
    "last month": {"site": SITE, "period": "last_month"},
    "year to date (weekly)": {"site": SITE, "period": "year"},
    "12 months (monthly)": {"site": SITE, "period": "12mo"},
    "all time": {"site": SITE, "period": "all"},
    "today, device=mobile": {"site": SITE, "period": "today", "device": "mobile"},
    "month, event=Signup": {"site": SITE, "period": "month", "event": "Signup"},
    "30 days, source=Google": {"site": SITE, "period": "30d", "source": "Google"},
    "7 days, device=mobile": {"site": SITE, "period": "7d", "device": "mobile"},
    "7 days, page=/pricing": {"site": SITE, "period": "7d", "page": "/pricing"},
}


def time_call(client: TestClient, path: str, params: dict[str, Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} {params} → {response.status_code}: {response.text}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, help="keep the generated lake here (reused)")
    parser.add_argument("--states", nargs="+", choices=list(STATES), default=list(STATES))
    parser.add_argument("--time-zone", default="", help="the sites' time zone (default UTC)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ownstats-dash-bench-") as tmp:
        data_dir = args.data or Path(tmp)
        if any(events_dir(data_dir).glob("*/*.parquet")):
            print(f"reusing the lake in {data_dir}", flush=True)
        else:
            print(f"generating ~{args.events:,} events over {args.days} days …", flush=True)
            started = time.perf_counter()
            n = generate(data_dir, args.events, args.days)
            print(f"  {n:,} events written in {time.perf_counter() - started:.1f} s", flush=True)
        engine = Engine(data_dir)
        started = time.perf_counter()
        engine.query("SELECT count(*) FROM daily_stats")
        print(f"  engine start + materialisation: {time.perf_counter() - started:.1f} s")
        worst: dict[str, tuple[float, str]] = {}
        with TestClient(build_app(engine, time_zone=args.time_zone)) as client:
            for state_name in args.states:
                state = STATES[state_name]
                print(f"\n{state_name}  ({'&'.join(f'{k}={v}' for k, v in state.items())})")
                print(f"  {'endpoint':24} {'median ms':>10} {'min ms':>8}")
                for label, (path, params) in page_calls(state).items():
                    times = time_call(client, path, params, args.runs)
                    median = statistics.median(times)
                    flag = "" if median <= TARGET_MS else "  > target"
                    print(f"  {label:24} {median:10.1f} {min(times):8.1f}{flag}")
                    if median > worst.get(state_name, (0.0, ""))[0]:
                        worst[state_name] = (median, label)
        engine.close()
    print(f"\nslowest endpoint per state (median; target ≤ {TARGET_MS:.0f} ms):")
    for state_name, (median, label) in worst.items():
        print(f"  {state_name:26} {median:8.1f} ms  ({label})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

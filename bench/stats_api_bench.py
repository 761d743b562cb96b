"""Stats API v2 latency on a generated 1M-event lake, local and hosted: p50 and p95.

Where it sits: beside bench/dashboard_bench.py, with the same lake generator
(bench/views_bench.py). Each representative query (docs/API.md's kinds: the cards, a
source breakdown with percentages and a row count, top pages sorted, a daily series,
a filtered breakdown, goals) is posted through the whole ASGI stack, key check
included, ``--runs`` times; the first answer of each is a cold one (the engine's own
caches are empty), the rest warm. Target: p50 ≤ 300 ms.

``--hosted`` also measures the hosted function's handler in process: the days compacted
as the compactor leaves them, its rollups written (lake_compactor.roll_up), and the
same requests answered by the function's app (``build_hosted_app`` over ``LakeBackend``
with an Athena stand-in that counts what it is asked), its first call on an empty
``/tmp`` cache. What it does not include: Lambda's own overhead, API Gateway and the
S3 latency of a cold cache (the files are read from local disk here).

    .venv/bin/python bench/stats_api_bench.py [--events 1000000] [--days 30] [--runs 20]
        [--data DIR]   # keep (or reuse) the generated lake
        [--hosted]     # the hosted handler too
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
from ownstats.dashboard.api_keys import KeyStore  # noqa: E402
from ownstats.engine import Engine  # noqa: E402
from ownstats.lake import events_dir  # noqa: E402

SITE = DOMAINS[0][0]
TARGET_MS = 300.0
QUERIES: dict[str, dict[str, Any]] = {
    "cards, 30 days": {
        "metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate",
                    "visit_duration"],
        "date_range": "30d",
    },
    "sources + percentage + total_rows": {
        "metrics": ["visitors", "visits", "bounce_rate", "visit_duration", "percentage"],
        "date_range": "30d", "dimensions": ["visit:source"], "include": {"total_rows": True},
        "pagination": {"limit": 10},
    },
    "top pages by pageviews": {
        "metrics": ["visitors", "pageviews", "time_on_page", "scroll_depth"],
        "date_range": "30d", "dimensions": ["event:page"],
        "order_by": [["pageviews", "desc"]], "pagination": {"limit": 10},
    },
    "visitors per day": {
        "metrics": ["visitors", "pageviews"], "date_range": "30d",
        "dimensions": ["time:day"], "include": {"time_labels": True},
    },
    "browsers of mobile Google visits": {
        "metrics": ["visitors", "visits"], "date_range": "30d",
        "dimensions": ["visit:browser"],
        "filters": [["is", "visit:source", ["Google"]], ["is", "visit:device", ["Mobile"]]],
    },
    "goals": {
        "metrics": ["visitors", "events", "conversion_rate"], "date_range": "30d",
        "dimensions": ["event:goal"],
    },
    "source x device": {
        "metrics": ["visitors", "visits", "bounce_rate"], "date_range": "30d",
        "dimensions": ["visit:source", "visit:device"], "pagination": {"limit": 20},
    },
    "a property's values": {
        "metrics": ["visitors", "events", "percentage"], "date_range": "30d",
        "dimensions": ["event:props:plan"],
    },
    "cards of one page (page filter)": {
        "metrics": ["visitors", "visits", "pageviews", "bounce_rate"], "date_range": "30d",
        "filters": [["is", "event:page", ["/"]]],
    },
    "page x source": {
        "metrics": ["visitors", "pageviews"], "date_range": "30d",
        "dimensions": ["event:page", "visit:source"], "pagination": {"limit": 20},
    },
    "goal x device x day + conversion": {
        "metrics": ["visitors", "events", "conversion_rate"], "date_range": "30d",
        "dimensions": ["event:goal", "visit:device", "time:day"],
    },
    "hours x device, 7 days": {
        "metrics": ["visitors", "pageviews", "visits"], "date_range": "7d",
        "dimensions": ["time:hour", "visit:device"],
    },
    "or / matches / has_not_done": {
        "metrics": ["visitors", "visits"], "date_range": "30d",
        "filters": [["or", [["is", "visit:source", ["Google"]],
                            ["matches", "event:page", ["^/blog/"]]]],
                    ["has_not_done", ["is", "event:goal", ["Signup"]]]],
    },
}  # fmt: skip
FUNNEL = {"date_range": "30d", "steps": ["/", "/pricing", "goal:Signup"]}


def measure(client: TestClient, headers: dict[str, str], runs: int) -> None:
    print(f"\n{'query':36} {'cold ms':>8} {'p50 ms':>8} {'p95 ms':>8}")
    calls = [(label, "/api/v2/query", body) for label, body in QUERIES.items()]
    calls.append(("funnel: / → /pricing → Signup", "/api/v2/funnel", FUNNEL))
    for label, path, body in calls:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            answer = client.post(path, json={"site_id": SITE, **body}, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{label}: {answer.status_code} {answer.text}")
        warm = sorted(times[1:])
        p50 = statistics.median(warm)
        p95 = warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))]
        flag = "" if p50 <= TARGET_MS else "  > target"
        print(f"{label:36} {times[0]:8.1f} {p50:8.1f} {p95:8.1f}{flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--data", type=Path, help="keep the generated lake here (reused)")
    parser.add_argument("--hosted", action="store_true", help="the hosted handler too")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ownstats-api-bench-") as tmp:
        data_dir = args.data or Path(tmp)
        if any(events_dir(data_dir).glob("*/*.parquet")):
            print(f"reusing the lake in {data_dir}", flush=True)
        else:
            print(f"generating ~{args.events:,} events over {args.days} days …", flush=True)
            print(f"  {generate(data_dir, args.events, args.days):,} events written")
        if args.hosted:
            from hosted_dashboard_bench import compact

            compact(data_dir)  # the days as the compactor leaves them (local reads them too)
        keys = KeyStore(Path(tmp) / "keys", hourly_limit=10**9)
        headers = {"Authorization": f"Bearer {keys.create('bench')}"}
        engine = Engine(data_dir)
        engine.query("SELECT count(*) FROM daily_stats")  # materialised, as serve does
        print("\nlocal (ownstats serve: the engine's kept tables)")
        with TestClient(build_app(engine, api_keys=keys)) as client:
            measure(client, headers, args.runs)
        engine.close()
        if args.hosted:
            measure_hosted(data_dir, Path(tmp), keys, headers, args.runs)
    return 0


def measure_hosted(
    data_dir: Path, tmp: Path, keys: KeyStore, headers: dict[str, str], runs: int
) -> None:
    from hosted_dashboard_bench import NoAthena

    from lake_compactor.roll_up import roll_up
    from lake_compactor.store import LocalStore
    from ownstats.dashboard.hosted import RoutedBackend, build_hosted_app
    from ownstats.dashboard.lake_backend import LakeBackend
    from ownstats.dashboard.params import utc_today

    started = time.perf_counter()
    report = roll_up(LocalStore(data_dir), workdir=tmp / "work")
    print(f"\nrollups of {len(report.days)} days written in {time.perf_counter() - started:.1f} s")
    athena = NoAthena()
    fast = LakeBackend(LocalStore(data_dir), tmp / "function-cache", today=utc_today)
    routed = RoutedBackend(fast, athena)
    domains = sorted({d for d, *_ in DOMAINS})
    app = build_hosted_app(routed, domains, cache_ttl_s=0, api_keys=keys)
    print("hosted (the dashboard function's handler in process: rollups + recent events)")
    with TestClient(app) as client:
        measure(client, headers, runs)
    print(f"Athena queries: {len(athena.asked)}; answered by the function: {routed.answered}")


if __name__ == "__main__":
    raise SystemExit(main())

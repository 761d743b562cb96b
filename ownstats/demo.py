"""``ownstats demo``: a living dashboard within a minute, with no website of your own.

Two weeks of realistic history go through the real processor into a fresh lake, then
``serve`` starts and a traffic thread plays visitors against it over HTTP — real
``/hello.gif`` requests with browser user agents, referrers, UTM tags and countries
(as a CDN in front would pass them: X-Forwarded-For, CloudFront-Viewer-Country) — so
current visitors, today's chart and every breakdown move while you watch.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import os
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from ownstats import traffic

DEMO_DOMAINS = ("example.com", "blog.example.org")
MARKER = ".ownstats-demo"


def fresh_data_dir(path: Path) -> Path:
    """A clean demo lake; only a directory the demo itself made is ever wiped."""
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise SystemExit(
                f"error: {path} exists and is not a demo lake; pass another --data directory"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by `ownstats demo`; deleted by the next demo run\n")
    return path


def backfill(data: Path, days: int, visits_per_day: int) -> None:
    from ownstats.cli import ingest

    now = time.time()
    start = (now // 86400 - days) * 86400
    visits = days * visits_per_day + int((now - now // 86400 * 86400) / 86400 * visits_per_day)
    print(f"generating {days} days of history ({visits:,} visits) …", file=sys.stderr, flush=True)
    totals = ingest(
        data,
        list(DEMO_DOMAINS),
        traffic.lines(DEMO_DOMAINS, start, now - 60, visits, seed=int(now)),
    )
    print(
        f"history: {totals.accepted:,} events stored, "
        f"{sum(totals.rejections.values()):,} rejected (bots, foreign sites, junk)",
        file=sys.stderr,
        flush=True,
    )


class LiveTraffic(threading.Thread):
    """Plays generated visits against the collector in real time, over HTTP.

    By default the visits continue the history: ``visits_per_day`` at the same time of
    day and weekday rhythm (``traffic.rate_at``), in real time, so today, realtime and
    every comparison look like a real site's (a fixed 2 visits/s on top of ~400 a day
    showed today up 385 %). ``rate`` (visits/s) overrides it for a busier screen.
    """

    def __init__(
        self,
        host: str,
        port: int,
        rate: float | None,
        seed: int | None = None,
        visits_per_day: float = 600,
    ) -> None:
        super().__init__(name="demo-traffic", daemon=True)
        self.host, self.port, self.rate = host, port, rate
        self.visits_per_day = visits_per_day
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.sent = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
        queue: list[tuple[float, int, traffic.Hit]] = []
        order = 0
        next_visit = self.next_visit(time.time())
        while not self.stop_event.is_set():
            now = time.time()
            while next_visit <= now:
                for hit in traffic.visit(self.rng, self.rng.choice(DEMO_DOMAINS), next_visit):
                    heapq.heappush(queue, (hit.time_s, order, hit))
                    order += 1
                if self.rng.random() < 0.05:
                    heapq.heappush(
                        queue, (now, order, traffic.noise(self.rng, DEMO_DOMAINS[0], now))
                    )
                    order += 1
                next_visit = self.next_visit(next_visit)
            while queue and queue[0][0] <= now:
                _, _, hit = heapq.heappop(queue)
                connection = self.send(connection, hit)
            self.stop_event.wait(0.05)
        connection.close()

    def next_visit(self, after: float) -> float:
        """When the next visit starts: the history's rhythm, or the fixed ``rate``."""
        if self.rate:
            return after + self.rng.expovariate(self.rate)
        return traffic.next_visit_time(self.rng, self.visits_per_day, after)

    def send(
        self, connection: http.client.HTTPConnection, hit: traffic.Hit
    ) -> http.client.HTTPConnection:
        path = f"{hit.stem}?{urlencode(hit.query)}" if hit.query else hit.stem
        headers = {
            "User-Agent": hit.user_agent,
            "X-Forwarded-For": hit.ip,
            "CloudFront-Viewer-Country": hit.country,
        }
        try:
            connection.request(hit.method, path, headers=headers)
            connection.getresponse().read()
            self.sent += 1
        except (OSError, http.client.HTTPException):
            connection.close()  # the server is restarting or stopping: reconnect next time
            connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
        return connection

    def stop(self) -> None:
        self.stop_event.set()


def run(args: argparse.Namespace) -> int:
    from ownstats.cli import banner
    from ownstats.server import LocalStack, check_port, is_loopback, serve

    check_port(args.host, args.port)
    data = fresh_data_dir(Path(args.data or "./ownstats-demo-data"))
    backfill(data, args.days, args.visits_per_day)
    # the traffic thread plays a CDN: it sets X-Forwarded-For and the viewer country
    stack = LocalStack(data, list(DEMO_DOMAINS), trust_proxy=True, time_zone=args.time_zone)
    live = LiveTraffic(
        "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host,
        args.port,
        args.rate,
        visits_per_day=args.visits_per_day,
    )

    # the traffic thread plays a CDN, not a proxy of strangers: a loopback demo keeps
    # its dashboard on its own port, http://localhost:8080/
    shared = is_loopback(args.host)

    def ready() -> None:
        print(banner(args.host, args.port, data, DEMO_DOMAINS, shared=shared), flush=True)
        if args.rate:
            print(f"  live demo traffic: ~{args.rate:g} visits/s (faster than the history: "
                  "today and realtime will compare high)", flush=True)
        else:
            per_hour = traffic.rate_at(args.visits_per_day, time.time()) * 3600
            print(f"  live demo traffic: the history's pace, ~{per_hour:.0f} visits/hour now "
                  "(--rate N for a busier screen)", flush=True)
        live.start()
        if args.duration:
            # a daemon: a stop by Ctrl-C or SIGTERM before the time is up must not wait
            # for it (a plain Timer kept the process alive until --duration had passed)
            timer = threading.Timer(args.duration, os.kill, (os.getpid(), signal.SIGINT))
            timer.daemon = True
            timer.start()

    serve(stack, args.host, args.port, ready=ready, share=shared)
    live.stop()
    totals = stack.pump.totals
    print(
        f"demo stopped: {live.sent:,} live requests, {totals.accepted:,} events stored", flush=True
    )
    return 0

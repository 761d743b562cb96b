"""Stream processor throughput next to the floor of the same work done naively.

The floor is the least any processor must do per line of CloudFront's real format:
split the tab-separated record, take the query from ``cs-uri-stem``, undo CloudFront's
``%25`` layer, ``parse_qsl`` the beacon query, unquote the user agent and
``json.dumps`` a result. The pipeline (parse → validate → drop bots → enrich → hash →
JSON encode, as the Firehose sink does) must stay within 2× the floor's time. Both run
in the same process on the same 100k realistic records in CloudFront's real format
(ownstats.traffic writes what CloudFront writes), the sink stubbed.

It also reports a Lambda cold start as bench/startup.py measures it: a fresh process that
imports the handler and processes one record (time to that record, peak memory), and,
given ``--before`` (a worktree of the old code), the same for that code side by side.

    python bench/processor_bench.py [--records 100000] [--repeat 3] [--before DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from startup import handler_startup, report

from ownstats import traffic
from ownstats.collector import kinesis_event
from stream_processor.fields import FIELD_INDEX
from stream_processor.handler import process_event
from stream_processor.pipeline import Hit, Processor
from stream_processor.sinks import encode
from stream_processor.visitor import MemorySaltStore

I_UA, I_STEM = FIELD_INDEX["cs-user-agent"], FIELD_INDEX["cs-uri-stem"]


def floor(lines: Sequence[str]) -> None:
    for line in lines:
        values = line.split("\t")
        query = values[I_STEM].partition("?")[2].replace("%25", "%")
        params = dict(parse_qsl(query))
        params["ua"] = unquote(values[I_UA])
        json.dumps(params)


class EncodingSink:
    """Stands in for Firehose: encodes every event as the real sink does, sends nothing."""

    def put(self, events: Sequence[dict[str, Any]]) -> list[int]:
        for event in events:
            encode(event)
        return []


def run_steps_timed(processor: Processor, lines: Sequence[str]) -> dict[str, float]:
    """Seconds spent per named step: where the pipeline's time goes."""
    totals = dict.fromkeys((name for name, _ in processor.named_steps), 0.0)
    for line in lines:
        hit = Hit(line)
        for name, step in processor.named_steps:
            start = time.perf_counter()
            drop = step(hit)
            totals[name] += time.perf_counter() - start
            if drop is not None:
                break
    return totals


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a tree with the old code, for start-up")
    parser.add_argument("--startup-runs", type=int, default=5)
    args = parser.parse_args()

    now = time.time()
    visits = args.records // 5
    lines = list(traffic.lines(["example.com", "example.org"], now - 7 * 86400, now, visits))
    lines = (lines * (args.records // len(lines) + 1))[: args.records]
    processor = Processor(
        domains=["example.com", "example.org"], sink=EncodingSink(), salts=MemorySaltStore()
    )
    processor.process(enumerate(lines[:2000]))  # warm the caches, as a warm Lambda is

    items = list(enumerate(lines))
    floor_s = best_of(args.repeat, lambda: floor(lines))
    pipeline_s = best_of(args.repeat, lambda: processor.process(items))
    event = kinesis_event(items)  # as the local collector hands batches to the handler
    handler_s = best_of(args.repeat, lambda: process_event(event, processor))
    result = processor.process(items)

    n = len(lines)
    print(
        f"records: {n:,} ({result.accepted:,} accepted, "
        f"{sum(result.rejections.values()):,} rejected: {result.rejections.as_dict()})"
    )
    print(
        f"floor (split + stem query + %25 + parse_qsl + UA + json): {floor_s:6.3f} s  "
        f"{n / floor_s:>9,.0f} records/s"
    )
    print(
        f"pipeline (lines -> encoded events):                 {pipeline_s:6.3f} s  "
        f"{n / pipeline_s:>9,.0f} records/s  = {pipeline_s / floor_s:.2f}x floor"
    )
    print(
        f"handler (Kinesis event: base64 + deaggregate + pipeline): {handler_s:6.3f} s  "
        f"{n / handler_s:>9,.0f} records/s  = {handler_s / floor_s:.2f}x floor"
    )
    steps = run_steps_timed(processor, lines[:20000])
    total = sum(steps.values())
    print(
        "time per step (20k records): "
        + ", ".join(f"{name} {seconds / total:.0%}" for name, seconds in steps.items())
    )
    verdict = "OK" if pipeline_s <= 2 * floor_s else "OVER BUDGET"
    print(f"target: pipeline <= 2.00x floor -> {verdict}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this benchmark's process: {rss:.0f} MB")
    title = "Lambda handler import + 1 record"
    report(title, handler_startup, lines, "example.com,example.org", args.before, args.startup_runs)


if __name__ == "__main__":
    main()

"""How fast the archive repair adds a lost day: a day of 1 M page views a month.

Where it sits: beside ``compaction_bench.py``. The traffic generator (``ownstats.traffic``,
the demo's) makes a day of visits; their requests are written as CloudFront writes them
to the archive (hourly gzipped standard logs, by ``tests/factories.standard_log_text``),
the lake has lost the whole day, and ``lake_compactor.repair.repair_day`` runs over local
stores (no S3 latency: on AWS add ~30 ms per GET for ~24+ log objects and the lake's
objects). A second run over the repaired lake shows what an hourly run costs when
nothing was lost.

    .venv/bin/python bench/repair_bench.py [--visits 11000]

11,000 visits a day is about 1 M page views a month with the generator's ~3 page views
a visit.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

#: Lambda arm64 per GB-second, and the repair function's size
LAMBDA_USD_PER_GB_S = 0.0000133334
REPAIR_GB = 1.769


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=11_000)
    args = parser.parse_args(argv)

    from factories import standard_log_text

    from lake_compactor.repair import repair_day
    from lake_compactor.store import LocalStore
    from ownstats import traffic
    from stream_processor.pipeline import Processor
    from stream_processor.sinks import MemorySink
    from stream_processor.useragent import warm
    from stream_processor.visitor import MemorySaltStore

    day = "2026-03-02"
    start = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    hits = [h for h in traffic.hits(["example.com"], start, start + 86400, args.visits, seed=5)
            if start <= h.time_s < start + 86400]  # fmt: skip
    warm()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        by_hour: dict[str, list[dict[str, str]]] = {}
        for hit in hits:
            hour = datetime.fromtimestamp(hit.time_s, UTC).strftime("%Y-%m-%d-%H")
            by_hour.setdefault(hour, []).append(hit.record())
        logs = root / "archive" / "cloudfront"
        logs.mkdir(parents=True)
        log_bytes = 0
        for hour, records in by_hour.items():
            path = logs / f"E2BENCH.{hour}.a1b2c3d4.gz"
            path.write_bytes(gzip.compress(standard_log_text(records).encode()))
            log_bytes += path.stat().st_size
        (root / "lake" / "events").mkdir(parents=True)
        processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
        runs: list[tuple[float, Any]] = []
        for _ in range(2):
            started = time.perf_counter()
            report = repair_day(
                LocalStore(root / "archive"), LocalStore(root / "lake"), day,
                processor=processor, workdir=root / "work", apply=True,
            )  # fmt: skip
            runs.append((time.perf_counter() - started, report))
        # what the schedules read when nothing is missing: a window of 3 hours (every run
        # of either schedule) and a single hour (the late re-read), on the repaired lake
        windows = {}
        for name, first, last in (("3 hours", 12, 14), ("1 hour", 12, 12)):
            started = time.perf_counter()
            repair_day(
                LocalStore(root / "archive"), LocalStore(root / "lake"), day,
                processor=processor, workdir=root / "work", apply=True,
                hour=first, last_hour=last,
            )  # fmt: skip
            windows[name] = time.perf_counter() - started
    (lost_s, lost), (healthy_s, healthy) = runs
    print(f"a day of {args.visits:,} visits: {len(hits):,} requests in {lost.log_files} hourly "
          f"standard logs ({log_bytes / 1e6:.1f} MB gzipped)")  # fmt: skip
    print(f"lost day repaired: {lost.added:,} events added of {lost.in_archive:,} in the archive "
          f"in {lost_s:.1f} s = {lost.records / lost_s:,.0f} records/s")  # fmt: skip
    print(f"the same day again (nothing lost): {healthy.added} added, {healthy.in_lake:,} in "
          f"the lake, {healthy_s:.1f} s")  # fmt: skip
    day_usd = lost_s * REPAIR_GB * LAMBDA_USD_PER_GB_S
    print(f"Lambda at {REPAIR_GB} GB: ${day_usd:.4f} per lost day repaired")
    three, one = windows["3 hours"], windows["1 hour"]
    print(f"one run, nothing missing: 3 hours {three:.2f} s, 1 hour {one:.2f} s")
    for mode, runs_3h, runs_1h in (
        ("with the stream (hourly: 3 hours + the late hour)", 720, 720),
        ("without it, -c realtime=false (every 15 min: 3 hours; hourly: the late hour)",
         2880, 720),
    ):  # fmt: skip
        seconds = runs_3h * three + runs_1h * one
        usd = seconds * REPAIR_GB * LAMBDA_USD_PER_GB_S
        print(f"  {mode}: {seconds / 3600:.2f} h of Lambda a month ≈ ${usd:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

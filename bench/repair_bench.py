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
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            report = repair_day(
                LocalStore(root / "archive"), LocalStore(root / "lake"), day,
                processor=processor, workdir=root / "work", apply=True,
            )  # fmt: skip
            runs.append((time.perf_counter() - started, report))
    (lost_s, lost), (healthy_s, healthy) = runs
    print(f"a day of {args.visits:,} visits: {len(hits):,} requests in {lost.log_files} hourly "
          f"standard logs ({log_bytes / 1e6:.1f} MB gzipped)")  # fmt: skip
    print(f"lost day repaired: {lost.added:,} events added of {lost.in_archive:,} in the archive "
          f"in {lost_s:.1f} s = {lost.records / lost_s:,.0f} records/s")  # fmt: skip
    print(f"the same day again (nothing lost): {healthy.added} added, {healthy.in_lake:,} in "
          f"the lake, {healthy_s:.1f} s")  # fmt: skip
    day_usd = lost_s * REPAIR_GB * LAMBDA_USD_PER_GB_S
    hourly_usd = healthy_s / 24 * 3 * 24 * 30 * REPAIR_GB * LAMBDA_USD_PER_GB_S
    print(f"Lambda at {REPAIR_GB} GB: ${day_usd:.4f} per lost day repaired; the hourly runs "
          f"(3 hours each, nothing lost) ≈ ${hourly_usd:.3f} a month (this machine's times)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

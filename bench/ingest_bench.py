"""`ownstats ingest` throughput: log file → processor → Parquet lake, next to the floor.

The floor is the processor benchmark's (split + query from the stem + ``%25`` + ``parse_qsl``
+ unquote UA +
``json.dumps`` per line), measured in the same run on the same lines. Ingest adds
reading the file, the whole pipeline, pyarrow conversion, Parquet writing and the
final compaction.

    python bench/ingest_bench.py [--records 100000]
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # as the CLI runs it

from processor_bench import floor

from ownstats import traffic
from ownstats.cli import ingest, read_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()

    now = time.time()
    lines = list(
        traffic.lines(["example.com", "example.org"], now - 7 * 86400, now, args.records // 5)
    )
    lines = (lines * (args.records // len(lines) + 1))[: args.records]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "realtime.log"
        log.write_text("\n".join(lines) + "\n")

        gc.collect()
        start = time.perf_counter()
        floor(lines)
        floor_s = time.perf_counter() - start

        gc.collect()
        start = time.perf_counter()
        totals = ingest(
            Path(tmp) / "lake", ["example.com", "example.org"], read_lines(str(log)), quiet=True
        )
        ingest_s = time.perf_counter() - start

        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ownstats.cli",
                "ingest",
                "--quiet",
                "--data",
                str(Path(tmp) / "lake2"),
                "--domain",
                "example.com,example.org",
                str(log),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        command_s = time.perf_counter() - start
        files = len(list((Path(tmp) / "lake").glob("events/*/*.parquet")))

    n = len(lines)
    print(f"records: {n:,} ({totals.accepted:,} events stored in {files} Parquet files)")
    print(
        f"floor (split + stem query + %25 + parse_qsl + UA + json): {floor_s:6.2f} s "
        f"{n / floor_s:>9,.0f} records/s"
    )
    print(
        f"ingest (in process, file -> lake):                  {ingest_s:6.2f} s "
        f"{n / ingest_s:>9,.0f} records/s = {ingest_s / floor_s:.2f}x floor"
    )
    print(
        f"`ownstats ingest` command (incl. start-up):        {command_s:6.2f} s "
        f"{n / command_s:>9,.0f} records/s"
    )
    print(done.stdout.splitlines()[0])


if __name__ == "__main__":
    main()

"""`ownstats ingest` throughput: log file → processor → Parquet lake, next to the floor.

The floor is the processor benchmark's (split + query from the stem + ``%25`` + ``parse_qsl``
+ unquote UA +
``json.dumps`` per line), measured in the same run on the same lines. Ingest adds
reading the file, the whole pipeline, pyarrow conversion, Parquet writing and the
final compaction.

Start-up (bench/startup.py): ``ownstats ingest`` of a one-record file in a fresh process,
the time to its first record processed, the whole command and its peak memory; the whole
command on the 100k records is compared with the floor. ``--before DIR`` (a worktree of the
old code: ``git worktree add /tmp/ownstats-before HEAD``) runs both commands with that
code too, side by side.

    python bench/ingest_bench.py [--records 100000] [--before DIR] [--startup-runs 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # as the CLI runs it

from processor_bench import floor
from startup import ROOT, ingest_startup, report

from ownstats import traffic
from ownstats.cli import ingest, read_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--before", type=Path, help="a tree with the old code, side by side")
    parser.add_argument("--startup-runs", type=int, default=5)
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
        start, start_cpu = time.perf_counter(), time.process_time()
        floor(lines)
        floor_s = time.perf_counter() - start
        floor_cpu = time.process_time() - start_cpu

        gc.collect()
        start = time.perf_counter()
        totals = ingest(
            Path(tmp) / "lake", ["example.com", "example.org"], read_lines(str(log)), quiet=True
        )
        ingest_s = time.perf_counter() - start

        commands = {"now": ROOT} | ({"before": args.before} if args.before else {})
        command_s: dict[str, float] = {}
        command_cpu: dict[str, float] = {}
        for name, tree in commands.items():
            start, before = time.perf_counter(), _children_cpu()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ownstats.cli",
                    "ingest",
                    "--quiet",
                    "--data",
                    str(Path(tmp) / f"lake-{name}"),
                    "--domain",
                    "example.com,example.org",
                    str(log),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
            )
            command_s[name] = time.perf_counter() - start
            command_cpu[name] = _children_cpu() - before
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
    for name, seconds in command_s.items():
        print(
            f"`ownstats ingest` command (incl. start-up), {name:6}: {seconds:6.2f} s "
            f"{n / seconds:>9,.0f} records/s = {seconds / floor_s:.2f}x floor"
        )
    # CPU time: on a machine other jobs keep busy, wall time measures them too (the
    # command's own threads, compaction's included, add up: it can exceed its wall time)
    print(f"floor CPU: {floor_cpu:6.2f} s")
    for name, seconds in command_cpu.items():
        print(
            f"`ownstats ingest` command CPU, {name:6}: {seconds:6.2f} s = "
            f"{seconds / floor_cpu:.2f}x the floor's CPU"
        )
    print(done.stdout.splitlines()[0])
    report(
        "`ownstats ingest` of 1 record",
        ingest_startup,
        lines,
        "example.com,example.org",
        args.before,
        args.startup_runs,
    )


def _children_cpu() -> float:
    """User and system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()

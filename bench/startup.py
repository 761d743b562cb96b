"""Start-up of a fresh process: from its start to its first record processed, and its peak memory.

A short ``ownstats ingest`` and every Lambda cold start pay whatever is built before the
first record, so it is measured the way they meet it: a new interpreter each time, timed
from just before it is started to the moment its first batch comes back from the
processor (the child prints that moment), its peak memory (``VmHWM``) as it exits.
Given another tree (``git worktree add /tmp/ownstats-before HEAD``), the same children run
its code, for a before/after side by side. Used by processor_bench.py and ingest_bench.py,
and on its own:

    python bench/startup.py [--before /tmp/ownstats-before] [--runs 5]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the child's code: patches Processor.process to print when its first batch is done
_FIRST_BATCH = """
import sys, time
from stream_processor import pipeline
_process = pipeline.Processor.process
def _first(self, items):
    result = _process(self, items)
    print(f"FIRST-RECORD {time.time():.6f} {time.process_time():.6f}", flush=True)
    pipeline.Processor.process = _process
    return result
pipeline.Processor.process = _first
"""

# the process's own peak (VmHWM, kB): ru_maxrss would include the benchmark's own memory,
# which a forked child starts with
_RSS = (
    "hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0].split()[1]\n"
    "print('MAXRSS', hwm)\n"
)

_INGEST = (
    _FIRST_BATCH
    + """
from ownstats import cli
code = cli.main(sys.argv[1:])
"""
    + _RSS
    + "sys.exit(code)\n"
)

# what the Lambda handler does on a cold start, less boto3 and SSM (clients need AWS):
# import the handler module, then one Kinesis event of one record through a processor
_HANDLER = (
    _FIRST_BATCH
    + """
import base64, os
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
from stream_processor import handler
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore
line = sys.stdin.read().rstrip("\\n")
event = {"Records": [{"kinesis": {"sequenceNumber": "1", "partitionKey": "p",
    "data": base64.b64encode((line + "\\n").encode()).decode()}}]}
proc = pipeline.Processor(domains=sys.argv[1].split(","), sink=MemorySink(),
    salts=MemorySaltStore())
response, result = handler.process_event(event, proc)
assert result.records_in == 1, result
"""
    + _RSS
)


@dataclass
class Startup:
    first_record_s: float  # process start → first record processed
    command_s: float  # the whole process, exit included
    maxrss_mb: float
    #: the CPU time the process used until its first record (interpreter start included):
    #: on a machine that other jobs keep busy, wall time measures them too
    first_record_cpu_s: float = 0.0

    def __str__(self) -> str:
        return (
            f"first record {self.first_record_s:5.2f} s ({self.first_record_cpu_s:4.2f} s CPU), "
            f"whole process {self.command_s:5.2f} s, peak memory {self.maxrss_mb:4.0f} MB"
        )


def _run(code: str, args: list[str], tree: Path, stdin: str = "") -> Startup:
    env = {**os.environ, "PYTHONPATH": str(tree), "POWERTOOLS_LOG_LEVEL": "WARNING"}
    started = time.time()
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = child.communicate(stdin)
    ended = time.time()
    if child.returncode != 0:
        raise RuntimeError(f"start-up child failed ({child.returncode}): {err[-2000:]}")
    marks = next(x.split() for x in out.splitlines() if x.startswith("FIRST-RECORD"))
    rss = next(float(x.split()[1]) for x in out.splitlines() if x.startswith("MAXRSS"))
    return Startup(float(marks[1]) - started, ended - started, rss / 1024, float(marks[2]))


def ingest_startup(tree: Path, line: str, domains: str) -> Startup:
    """``ownstats ingest`` of a one-record file, run from ``tree``."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "one.log"
        log.write_text(line + "\n", encoding="utf-8")
        args = ["ingest", "--quiet", "--data", str(Path(tmp) / "lake"), "--domain", domains]
        return _run(_INGEST, [*args, str(log)], tree)


def handler_startup(tree: Path, line: str, domains: str) -> Startup:
    """The Lambda handler's module import and one record, run from ``tree``."""
    return _run(_HANDLER, [domains], tree, stdin=line)


def median_of(runs: int, measure: object, *args: object) -> Startup:
    """The median of ``runs`` fresh processes (a busy machine shifts single runs)."""
    found = [measure(*args) for _ in range(runs)]  # type: ignore[operator]
    return _median(found)


def _median(found: list[Startup]) -> Startup:
    return Startup(
        statistics.median(s.first_record_s for s in found),
        statistics.median(s.command_s for s in found),
        statistics.median(s.maxrss_mb for s in found),
        statistics.median(s.first_record_cpu_s for s in found),
    )


def _spread(found: list[Startup]) -> str:
    first = sorted(s.first_record_s for s in found)
    cpu = sorted(s.first_record_cpu_s for s in found)
    return f"first record {first[0]:.2f}-{first[-1]:.2f} s, {cpu[0]:.2f}-{cpu[-1]:.2f} s CPU"


#: which first record: the lists a record needs (and so what the old code built before
#: answering) depend on its user agent; a phone's needs the device lists as well
KINDS = {
    "desktop Chrome": ("Windows NT", "Chrome/"),
    "Android phone": ("Android", "Mobile"),
    "iPhone": ("iPhone", "Safari"),
}


def first_records(lines: list[str]) -> dict[str, str]:
    """A record of each of ``KINDS`` from ``lines`` (CloudFront's real format)."""
    from urllib.parse import unquote

    from stream_processor.fields import FIELD_INDEX

    found: dict[str, str] = {}
    for line in lines:
        agent = unquote(line.split("\t")[FIELD_INDEX["cs-user-agent"]])
        for kind, words in KINDS.items():
            if kind not in found and all(w in agent for w in words):
                found[kind] = line
    return found


def report(
    title: str,
    measure: object,
    lines: list[str],
    domains: str,
    before: Path | None,
    runs: int,
) -> None:
    """Print start-up of this tree, and of ``before`` when given, for each kind of record:
    the median of ``runs`` processes and the spread of their first-record times. The
    trees take turns, run by run, so a load that comes and goes weighs on both alike."""
    trees = [("now", ROOT)] + ([("before", before)] if before else [])
    for kind, line in first_records(lines).items():
        found: dict[str, list[Startup]] = {name: [] for name, _ in trees}
        for _ in range(runs):
            for name, tree in trees:
                found[name].append(measure(tree, line, domains))  # type: ignore[operator]
        for name, _ in trees:
            print(
                f"start-up, {title}, {kind:14} {name:6} (median of {runs}): "
                f"{_median(found[name])} (spread: {_spread(found[name])})"
            )


def main() -> None:
    """Both start-ups (``ownstats ingest`` and the Lambda handler), every kind of record."""
    import argparse
    import time as clock

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a tree with the old code, side by side")
    parser.add_argument("--runs", type=int, default=5, help="processes per figure (median)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from ownstats import traffic

    now = clock.time()
    lines = list(traffic.lines(["example.com", "example.org"], now - 7 * 86400, now, 2000))
    domains = "example.com,example.org"
    report("`ownstats ingest` of 1 record", ingest_startup, lines, domains, args.before, args.runs)
    title = "Lambda handler import + 1 record"
    report(title, handler_startup, lines, domains, args.before, args.runs)


if __name__ == "__main__":
    main()

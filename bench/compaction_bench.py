"""Lake compaction, measured: bytes per event, objects per day, and what a dashboard scans.

Where it sits: after Firehose (one Snappy Parquet object per partition per 60 s flush)
and ``lake_compactor`` (hourly and daily rewrites), before Athena. It answers three
questions with the real code, never with a guess:

1. **Bytes per event** on realistic traffic (``ownstats.traffic`` → the real
   ``Processor`` → events), before compaction (one file per flush, as Firehose writes
   them: Snappy, dictionary, INT96 timestamps) and after (``lake_compactor.merge`` with
   the deployed ``Policy``), with what makes the figure: sort order, dictionary
   encoding, zstd level, row-group size, and the bytes of each column.
2. **Objects per day**: a day of each scale is delivered minute by minute (file
   modification times = delivery times) and compacted by ``lake_compactor.run.compact``
   on a local copy of the bucket layout with the production schedule (hourly runs, the
   day closed 14 h after midnight), so the counts are what the Lambda leaves.
3. **Scan per dashboard load**: the dashboard's own queries
   (``ownstats.dashboard.queries``, the views of ``athena_views`` translated by
   ``athena_views.to_duckdb``) run in DuckDB on the lake before and after compaction;
   DuckDB's file-system log counts the objects opened, the read requests and the bytes
   read. A 30-day load is then the arithmetic printed below (29 closed days + today,
   60 days for the summary's comparison period), priced at Athena's $5/TB with its
   10 MB minimum per query.

Scales are page views a month; the events of one day are the realistic pool, sampled
by visitor (smaller scales) or replicated with fresh ids and shifted times (larger).

    .venv/bin/python bench/compaction_bench.py [--visits 12000] [--scales 10k,100k,1M,10M,100M]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from athena_views import create_view_statement, load_views
from lake_compactor.merge import merge
from lake_compactor.policy import Policy
from lake_compactor.run import compact
from lake_compactor.store import LocalStore
from ownstats import traffic
from ownstats.dashboard import queries
from ownstats.dashboard.params import Params
from ownstats.engine import duckdb_type, translate
from ownstats.lake import EVENTS_SCHEMA
from stream_processor.pipeline import Processor
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore

SITES = ["example.com", "blog.example.org"]
POLICY = Policy()
#: the Lambda: DuckDB gets 60 % of 3,008 MB; ~1.7 vCPUs (this machine has 2)
LAMBDA_MEMORY_LIMIT = "1800MB"
LAMBDA_GB = 3008 / 1024
DAY_S = 86_400
SCALES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000,
          "100M": 100_000_000}  # fmt: skip

# -- prices (us-east-1 list prices, as docs/DEPLOY.md) -----------------------------------
ATHENA_PER_TB = 5.0
ATHENA_MIN_BYTES = 10 * 1000**2
S3_GET = 0.0004 / 1000
S3_PUT = 0.005 / 1000
S3_GB_MONTH = 0.023
LAMBDA_GB_S = 0.0000133334
FIXED_MONTHLY = 12.85
PER_MILLION_PAGE_VIEWS = 3.80
#: Athena latency model (an estimate, not a measurement): per query a fixed part
#: (queueing, planning, writing the result), each object's requests spread over the
#: parallel split readers, and the bytes at the scan rate of a small query
ATHENA_FIXED_S = 1.2
ATHENA_OBJECT_S = 0.040 / 32  # 2 requests of ~20 ms per object, 32 readers in parallel
ATHENA_BYTES_PER_S = 150e6


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


# -- 1. realistic events -----------------------------------------------------------------


def realistic_pool(visits: int, day: date, seed: int = 7) -> pa.Table:
    """One day of realistic traffic through the real processor, as an events table."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    sink = MemorySink()
    processor = Processor(
        domains=SITES, sink=sink, salts=MemorySaltStore(), clock=lambda: start + DAY_S + 3600
    )
    batch: list[tuple[int, str]] = []
    for number, line in enumerate(traffic.lines(SITES, start, start + DAY_S, visits, seed=seed)):
        batch.append((number, line))
        if len(batch) == 500:
            processor.process(batch)
            batch = []
    processor.process(batch)
    rows = []
    for event in sink.events:
        row = {name: event.get(name) for name in EVENTS_SCHEMA.names}
        row["event_time"] = datetime.fromtimestamp(event["event_time"] / 1000, UTC).replace(
            tzinfo=None
        )
        row["props"] = list(event["props"].items()) if event.get("props") else None
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


def write_firehose_like(table: pa.Table, path: Path) -> int:
    """One flush as Firehose's Parquet SerDe writes it: Snappy, dictionary, INT96."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy", use_deprecated_int96_timestamps=True)
    return path.stat().st_size


def minute_slices(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """(epoch minute, rows) of a table sorted by event_time: one Firehose flush each."""
    times = table.column("event_time").cast(pa.int64())  # ms (the schema's unit)
    minutes = pc.floor(pc.divide(times, 60_000.0)).cast(pa.int64()).to_pylist()
    start = 0
    for index in range(1, len(minutes) + 1):
        if index == len(minutes) or minutes[index] != minutes[start]:
            yield minutes[start], table.slice(start, index - start)
            start = index


# -- 2. bytes per event and what makes them -----------------------------------------------


def column_bytes(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    rows = con.execute(
        "SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata($p) GROUP BY 1",
        {"p": str(path)},
    ).fetchall()
    out: dict[str, int] = {}
    for column, size in rows:
        name = column.split(",")[0].strip()
        out[name] = out.get(name, 0) + int(size)
    return out


def rewrite(
    con: duckdb.DuckDBPyConnection, source: Path, target: Path, order: str, options: str
) -> int:
    con.execute(
        "COPY (SELECT * REPLACE (CAST(event_time AS TIMESTAMP_MS) AS event_time) "
        f"FROM read_parquet('{source}') ORDER BY {order}) TO '{target}' "
        f"(FORMAT parquet, {options})"
    )
    return target.stat().st_size


def bytes_per_event_report(pool: pa.Table, work: Path) -> dict[str, Any]:
    """Before/after on the pool's day, the variants, and the bytes of each column."""
    print(f"\n== 1. bytes per event, {pool.num_rows:,} realistic events (one day) ==")
    before_dir = work / "bpe" / "before"
    order = pc.sort_indices(pool, [("event_time", "ascending")])
    ordered = pool.take(order)
    before_bytes = sum(
        write_firehose_like(rows, before_dir / f"flush-{minute}.parquet")
        for minute, rows in minute_slices(ordered)
    )
    files = sorted(before_dir.iterdir())
    started = time.perf_counter()
    result = merge(
        files, work / "bpe" / "after", policy=POLICY, temp_dir=work / "bpe" / "spill",
        memory_limit=LAMBDA_MEMORY_LIMIT, threads=2,
    )  # fmt: skip
    merge_s = time.perf_counter() - started
    (after,) = result.outputs
    n = result.rows
    print(
        f"  before: {len(files):,} files (one per 60 s flush), {mb(before_bytes)}, "
        f"{before_bytes / n:.1f} B/event (Snappy, dictionary, INT96 time, a footer per file)"
    )
    print(f"  after:  1 file, {mb(after.size)}, {after.size / n:.1f} B/event "
          f"(zstd {POLICY.compression_level}, sorted by {', '.join(POLICY.sort_keys)}, "
          f"{POLICY.row_group_rows:,}-row groups); merge {merge_s:.1f} s")  # fmt: skip

    con = duckdb.connect()
    con.execute("SET threads = 2")
    variants_dir = work / "bpe" / "variants"
    variants_dir.mkdir(parents=True)
    chosen = ", ".join(POLICY.sort_keys)
    level = POLICY.compression_level
    rg = POLICY.row_group_rows
    base = f"COMPRESSION zstd, COMPRESSION_LEVEL {level}, ROW_GROUP_SIZE {rg}"
    variants = [
        ("sort: arrival (event_time)", "event_time", base),
        ("sort: domain_name, event_time", "domain_name, event_time", base),
        (f"sort: {chosen} (deployed)", chosen, base),
        ("no dictionary encoding", chosen, base + ", DICTIONARY_SIZE_LIMIT 0"),
        ("Snappy instead of zstd", chosen, f"COMPRESSION snappy, ROW_GROUP_SIZE {rg}"),
        *[
            (f"zstd level {lv}", chosen,
             f"COMPRESSION zstd, COMPRESSION_LEVEL {lv}, ROW_GROUP_SIZE {rg}")
            for lv in (1, 3, 9, 15, 19)
        ],
        ("row groups of 1,048,576 rows", chosen,
         f"COMPRESSION zstd, COMPRESSION_LEVEL {level}, ROW_GROUP_SIZE 1048576"),
    ]  # fmt: skip
    print(f"  what makes it (the same {n:,} events rewritten with one knob changed):")
    print(f"    {'variant':40} {'B/event':>8} {'write s':>8}")
    table = []
    for number, (name, sort, options) in enumerate(variants):
        target = variants_dir / f"v{number}.parquet"
        started = time.perf_counter()
        size = rewrite(con, after.path, target, sort, options)
        seconds = time.perf_counter() - started
        table.append({"variant": name, "bytes_per_event": size / n, "seconds": seconds})
        print(f"    {name:40} {size / n:8.1f} {seconds:8.2f}")
    columns = column_bytes(con, after.path)
    print("  where the bytes are (deployed layout), B/event per column:")
    top = sorted(columns.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{k} {v / n:.1f}" for k, v in top[:8])
    rest = sum(v for _, v in top[8:])
    print(f"    {shown}, the other {len(top) - 8} columns {rest / n:.1f} "
          f"(footer {(after.size - sum(columns.values())) / n:.2f})")  # fmt: skip
    con.close()
    return {
        "events": n,
        "before_files": len(files),
        "before_bytes_per_event": before_bytes / n,
        "after_bytes_per_event": after.size / n,
        "merge_seconds": merge_s,
        "variants": table,
        "columns": {k: v / n for k, v in top},
    }


# -- 3. a day of each scale, delivered and compacted minute by minute ------------------


@dataclass
class Scale:
    name: str
    page_views_month: int
    events_day: int = 0
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    scans: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def day_source(
    con: duckdb.DuckDBPyConnection,
    pool: Path,
    pool_day: date,
    day: date,
    events: int,
    pool_rows: int,
) -> str:
    """SQL for ``events`` events of ``day``: the pool sampled by visitor, or replicated
    with fresh ids (hashes of id and copy number) and times shifted by up to ±5 min."""
    copies = max(1, math.ceil(events / pool_rows))
    keep = min(1.0, events / (copies * pool_rows))
    shift_days = (day - pool_day).days
    midnight = f"TIMESTAMP '{day.isoformat()} 00:00:00'"
    ids = (
        "CASE WHEN c = 0 THEN {col} ELSE substr(md5({col} || '/' || c), 1, 16) END"
    )  # fmt: skip
    return f"""
        SELECT * EXCLUDE (c) REPLACE (
            {ids.format(col="event_id")} AS event_id,
            {ids.format(col="visitor_id")} AS visitor_id,
            {ids.format(col="page_id")} AS page_id,
            least(greatest(event_time + INTERVAL {shift_days} DAY
                + CASE WHEN c = 0 THEN INTERVAL 0 SECOND ELSE to_milliseconds(
                    CAST(hash(visitor_id, c) % 600000 AS BIGINT) - 300000) END,
                {midnight}), {midnight} + INTERVAL 86399999 MILLISECOND) AS event_time)
        FROM read_parquet('{pool}'), range({copies}) AS copies(c)
        WHERE hash(visitor_id, c, 'sample') % 1000000 < {int(keep * 1_000_000)}
    """


def materialise_day(con: duckdb.DuckDBPyConnection, source: str, path: Path) -> int:
    """Write the day's events once, sorted by time (hours are then cheap to read)."""
    con.execute(f"COPY ({source} ORDER BY event_time) TO '{path}' (FORMAT parquet)")
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0]
    return int(rows)


def deliver(
    con: duckdb.DuckDBPyConnection,
    day_file: Path,
    root: Path,
    day: date,
    *,
    shift_days: int = 0,
    until_s: float = 24 * 3600,
) -> list[tuple[float, Path]]:
    """Write the day's events as Firehose flush files under ``root/events/event_date=…/``
    (one per minute, delivered ~90 s after it began; mtime = delivery time), up to
    ``until_s`` seconds after midnight; return them."""
    partition = root / "events" / f"event_date={day.isoformat()}"
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    delivered = []
    for hour in range(24):
        lo = datetime.fromtimestamp(midnight + hour * 3600, UTC).replace(tzinfo=None)
        shifted = f"event_time + INTERVAL {shift_days} DAY"
        table = con.sql(
            f"SELECT * REPLACE ({shifted} AS event_time) FROM read_parquet('{day_file}') "
            f"WHERE {shifted} >= TIMESTAMP '{lo}' "
            f"AND {shifted} < TIMESTAMP '{lo}' + INTERVAL 1 HOUR ORDER BY event_time"
        ).to_arrow_table()
        if table.num_rows == 0:
            continue
        table = table.cast(EVENTS_SCHEMA)
        for minute, rows in minute_slices(table):
            at = minute * 60 + 90  # Firehose's 60 s buffer, up to 1.5x with partitioning
            if at > midnight + until_s:
                return delivered
            stamp = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%d-%H-%M-%S")
            path = partition / f"ownstats-events-1-{stamp}-{uuid.uuid4()}.parquet"
            write_firehose_like(rows, path)
            os.utime(path, (at, at))
            delivered.append((at, path))
    return delivered


def replay(
    delivered: list[tuple[float, Path]],
    before_root: Path,
    after_root: Path,
    run_times: list[float],
    work: Path,
) -> tuple[dict[str, Any], float]:
    """Hard-link the deliveries into ``after_root`` as they arrive and run the real
    compaction at each of ``run_times``; return the merges done and their seconds."""
    store = LocalStore(after_root)
    pending = sorted(delivered)
    merges: list[dict[str, Any]] = []
    seconds = 0.0
    for run_at in run_times:
        while pending and pending[0][0] <= run_at:
            _, path = pending.pop(0)
            target = after_root / path.relative_to(before_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
        started = time.perf_counter()
        report = compact(
            store, workdir=work, policy=POLICY, clock=lambda t=run_at: t,
            memory_limit=LAMBDA_MEMORY_LIMIT, threads=2,
        )  # fmt: skip
        seconds += time.perf_counter() - started
        assert not report.errors, report.errors
        merges += report.compacted
        for path in (after_root / "events").rglob("compacted-*.parquet"):
            if path.stat().st_mtime > run_at:  # written "at" the simulated run time
                os.utime(path, (run_at, run_at))
    for _, path in pending:  # delivered after the last run
        target = after_root / path.relative_to(before_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    return {"merges": merges}, seconds


def partition_files(root: Path, day: date) -> list[Path]:
    return sorted((root / "events" / f"event_date={day.isoformat()}").glob("*.parquet"))


def simulate_scale(
    scale: Scale,
    pool: Path,
    pool_day: date,
    pool_rows: int,
    events_per_page_view: float,
    closed: date,
    today: date,
    work: Path,
) -> None:
    """Deliver and compact a closed day and today's first 12 hours of one scale."""
    scale.events_day = round(scale.page_views_month * events_per_page_view / 30)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '2GB'")  # bounded: DuckDB spills the rest
    root = work / scale.name
    root.mkdir(parents=True)
    midnight = datetime(closed.year, closed.month, closed.day, tzinfo=UTC).timestamp()
    started = time.perf_counter()
    source = day_source(con, pool, pool_day, closed, scale.events_day, pool_rows)
    day_file = root / "day.parquet"
    materialise_day(con, source, day_file)
    delivered = deliver(con, day_file, root / "before-closed", closed)
    generate_s = time.perf_counter() - started
    # the schedule: every hour, through the day's close (14 h after midnight) and the
    # deletion one grace period later (the runs in between have nothing to do)
    runs = [midnight + 3600 * h for h in range(1, 26)]
    runs += [midnight + DAY_S + POLICY.close_after_s, midnight + DAY_S + POLICY.close_after_s
             + 3600]  # fmt: skip
    done, compact_s = replay(
        delivered, root / "before-closed", root / "after-closed", runs, work / "tmp"
    )
    final = partition_files(root / "after-closed", closed)
    rows_before = sum(pq.ParquetFile(p).metadata.num_rows for _, p in delivered)
    closing = [m for m in done["merges"] if m["tier"] == "day"]
    hourly = [m for m in done["merges"] if m["tier"] == "hour"]
    scale.before["closed"] = {
        "objects": len(delivered),
        "bytes": sum(p.stat().st_size for _, p in delivered),
        "rows": rows_before,
    }
    scale.after["closed"] = {
        "objects": len(final),
        "bytes": sum(p.stat().st_size for p in final),
        "rows": sum(pq.ParquetFile(p).metadata.num_rows for p in final),
        "hourly_merge_s": max((m["seconds"] for m in hourly), default=0.0),
        "closing_merge_s": closing[-1]["seconds"] if closing else 0.0,
        "closing_input_bytes": closing[-1]["input_bytes"] if closing else 0,
        "runs_s": compact_s,
    }
    assert scale.after["closed"]["rows"] == rows_before, "the compaction lost or added events"

    # today at 11:59, just before the 12:00 run: hourly files and ~2 h of raw files
    t_midnight = midnight + DAY_S
    delivered_today = deliver(
        con, day_file, root / "before-today", today, shift_days=1, until_s=12 * 3600 - 60
    )
    replay(delivered_today, root / "before-today", root / "after-today",
           [t_midnight + 3600 * h for h in range(1, 12)], work / "tmp")  # fmt: skip
    now_files = partition_files(root / "after-today", today)
    scale.before["today"] = {
        "objects": len(delivered_today),
        "bytes": sum(p.stat().st_size for _, p in delivered_today),
    }
    scale.after["today"] = {
        "objects": len(now_files),
        "hourly": sum(p.name.startswith("compacted-hour-") for p in now_files),
        "bytes": sum(p.stat().st_size for p in now_files),
    }
    con.close()
    closing_s = scale.after["closed"]["closing_merge_s"]
    print(
        f"  {scale.name:>5} page views/month: {scale.events_day:,} events/day; generated in "
        f"{generate_s:.0f} s, compaction runs {compact_s:.0f} s (closing merge {closing_s:.1f} s)",
        flush=True,
    )


# -- 4. what the dashboard reads ------------------------------------------------------------


def dashboard_queries(site: str, today: date) -> dict[str, str]:
    """One page load of the dashboard (30 days), as its API sends it."""
    params = Params(site=site, period="30d", start=today - timedelta(days=29), end=today)
    load = {
        "summary (60 days)": queries.summary_sql(params),
        "timeseries": queries.timeseries_sql(params)[0],
        "current visitors": queries.current_visitors_sql(site),
    }
    for slug in ("pages", "sources", "countries", "devices", "custom-events"):
        load[f"breakdown {slug}"] = queries.breakdown_sql(queries.BREAKDOWNS[slug], params, 10)
    load["sites list (400 days)"] = queries.sites_sql(today - timedelta(days=400))
    return load


#: days of a 30-day page load each query reads (closed days, and today)
CLOSED_DAYS = {"summary (60 days)": 59, "current visitors": 1, "sites list (400 days)": 400}


def connect_lake(root: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with ``events`` over ``root`` and every view, as ``ownstats.engine`` has
    them (its column casts, the view SQL translated by athena_views.to_duckdb)."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '2GB'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_external_file_cache = false")  # count every read
    casts = ", ".join(
        f'CAST("{name}" AS {duckdb_type(glue)}) AS "{name}"'
        for name, glue, _ in EVENT_COLUMNS + PARTITION_KEYS
    )
    glob = root / "events" / "*" / "*.parquet"
    con.execute(
        f"CREATE VIEW events AS SELECT {casts} FROM read_parquet('{glob}', "
        "hive_partitioning = true, hive_types = {'event_date': 'VARCHAR'}, union_by_name = true)"
    )
    for view in load_views():
        con.execute(create_view_statement(view, dialect="duckdb"))
    return con


@dataclass(frozen=True)
class Layout:
    """Where a Parquet file's bytes are: column chunks (by top-level column) and footer."""

    path: str
    size: int
    row_groups: int
    columns: dict[str, int]
    chunks: tuple[tuple[int, int, str], ...]  # (start, end, column)

    @property
    def footer(self) -> int:
        return self.size - sum(self.columns.values())


def layout(con: duckdb.DuckDBPyConnection, path: Path) -> Layout:
    rows = con.execute(
        "SELECT path_in_schema, row_group_id, coalesce(least(dictionary_page_offset, "
        "data_page_offset), data_page_offset), total_compressed_size "
        "FROM parquet_metadata($p)",
        {"p": str(path)},
    ).fetchall()
    columns: dict[str, int] = {}
    chunks = []
    for column, _group, start, size in rows:
        name = column.split(",")[0].strip()
        columns[name] = columns.get(name, 0) + int(size)
        chunks.append((int(start), int(start) + int(size), name))
    return Layout(str(path), path.stat().st_size, len({r[1] for r in rows}), columns, tuple(chunks))


def measure(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """Objects opened, read requests and bytes read by one query (DuckDB's file log);
    a byte range read twice counts once, as a scan reads each column chunk once."""
    con.execute("CALL truncate_duckdb_logs()")
    con.execute("CALL enable_logging('FileSystem')")
    started = time.perf_counter()
    con.execute(translate(sql)).fetchall()
    seconds = time.perf_counter() - started
    con.execute("CALL disable_logging()")
    opened: set[str] = set()
    reads = 0
    ranges: dict[str, list[tuple[int, int]]] = {}
    for (message,) in con.execute(
        "SELECT message FROM duckdb_logs WHERE type = 'FileSystem'"
    ).fetchall():
        entry = json.loads(message)
        if entry.get("op") == "OPEN":
            opened.add(entry["path"])
        elif entry.get("op") == "READ":
            reads += 1
            pos = int(entry["pos"])
            ranges.setdefault(entry["path"], []).append((pos, pos + int(entry["bytes"])))
    read_bytes = 0
    for spans in ranges.values():
        end = -1
        for lo, hi in sorted(spans):
            lo = max(lo, end)
            if hi > lo:
                read_bytes += hi - lo
            end = max(end, hi)
    return {
        "objects": len(opened), "reads": reads, "bytes": read_bytes, "seconds": seconds,
        "ranges": ranges,
    }  # fmt: skip


def touched(layouts: dict[str, Layout], ranges: dict[str, list[tuple[int, int]]]) -> set[str]:
    """The columns whose chunks a query read."""
    columns = set()
    for path, spans in ranges.items():
        for start, end, column in layouts[path].chunks:
            if any(lo < end and start < hi for lo, hi in spans):
                columns.add(column)
    return columns


#: Trino merges the reads of a file whose gaps are under 1 MB: a small file is read whole
MERGE_DISTANCE = 1_000_000


def modeled(layouts: list[Layout], columns: set[str]) -> dict[str, float]:
    """What a scan of ``columns`` reads from these files (the arithmetic for scales that
    are not run): small files whole, large ones footer + the columns' chunks."""
    total = {"objects": len(layouts), "reads": 0, "bytes": 0}
    for item in layouts:
        if item.size < MERGE_DISTANCE:
            total["reads"] += 2  # footer, then the rest
            total["bytes"] += item.size
        else:
            total["reads"] += 1 + item.row_groups
            total["bytes"] += item.footer + sum(item.columns.get(c, 0) for c in columns)
    return total


#: days of events up to which every query is run in DuckDB; larger days are computed
#: from the columns the queries read (measured on the largest day that was run)
MEASURE_UP_TO = 1_000_000
COLUMNS_READ: dict[str, set[str]] = {}


def scan_scale(scale: Scale, work: Path, today: date) -> None:
    load = dashboard_queries(SITES[0], today)
    run = scale.events_day <= MEASURE_UP_TO
    for state in ("after", "before"):
        scale.scans[state] = {}
        for part in ("closed", "today"):
            root = work / scale.name / f"{state}-{part}"
            con = connect_lake(root)
            layouts = {
                str(p): layout(con, p) for p in sorted((root / "events").glob("*/*.parquet"))
            }
            for name, sql in load.items():
                if run:
                    result = measure(con, sql)
                    if state == "after" and part == "closed":
                        COLUMNS_READ[name] = touched(layouts, result.pop("ranges"))
                    result.pop("ranges", None)
                    result["model"] = modeled(list(layouts.values()), COLUMNS_READ[name])
                else:
                    result = modeled(list(layouts.values()), COLUMNS_READ[name])
                    result["modeled"] = True
                scale.scans[state].setdefault(name, {})[part] = result
            con.close()


def load_totals(scale: Scale, state: str, key: str | None = None) -> dict[str, Any]:
    """A 30-day dashboard load: each query's closed days × the closed-day figures + today
    (``key="model"``: the arithmetic's figures instead of DuckDB's)."""
    per_query = {}
    for name, parts in scale.scans[state].items():
        if name.startswith("sites list"):
            continue  # once per dashboard start (memoised), reported apart
        days = CLOSED_DAYS.get(name, 29)
        closed = parts["closed"][key] if key else parts["closed"]
        today = parts["today"][key] if key else parts["today"]
        total = {k: days * closed[k] + today[k] for k in ("objects", "reads", "bytes")}
        total["billed"] = max(ATHENA_MIN_BYTES, math.ceil(total["bytes"] / 1e6) * 1e6)
        total["latency_s"] = (
            ATHENA_FIXED_S + total["objects"] * ATHENA_OBJECT_S
            + total["bytes"] / ATHENA_BYTES_PER_S
        )  # fmt: skip
        per_query[name] = total
    queries_n = len(per_query)
    billed = sum(q["billed"] for q in per_query.values())
    return {
        "queries": queries_n,
        "objects": sum(q["objects"] for q in per_query.values()),
        "reads": sum(q["reads"] for q in per_query.values()),
        "bytes": sum(q["bytes"] for q in per_query.values()),
        "billed": billed,
        "athena_usd": billed / 1e12 * ATHENA_PER_TB,
        "get_usd": sum(q["reads"] for q in per_query.values()) * S3_GET,
        "latency_s": max(q["latency_s"] for q in per_query.values()),
        "per_query": per_query,
    }


#: a launch or a front-page link: the busiest minute at this many times the day's average
SPIKE = 10


def capacity(scale: Scale) -> dict[str, Any]:
    """Kinesis shards, Lambda concurrency and Firehose load at a traffic spike."""
    records_s = scale.events_day / DAY_S * SPIKE  # one Kinesis record per beacon
    bytes_s = records_s * 500  # a real-time log line is ~500 B
    shards = max(1, math.ceil(max(records_s / 1000, bytes_s / 1_048_576)))
    return {
        "records_per_s_spike": records_s,
        "shards": shards,
        "processor_concurrency": shards,  # one batch per shard at a time
        "firehose_mib_s_spike": records_s * 700 / 1_048_576,  # an event is ~700 B of JSON
    }


def monthly_bill(
    scale: Scale, totals: dict[str, Any], loads_per_day: int, retention_months: int
) -> dict[str, float]:
    """The month at this scale: docs/DEPLOY.md's fixed and per-page-view costs, plus what
    compaction and the dashboards add (measured here)."""
    runs = 24 * 30
    closed = scale.after["closed"]
    # ~1 s per run at rest (start, list), plus the merges as measured here
    lambda_s = runs * 1.0 + 30 * closed["runs_s"]
    gets = scale.before["closed"]["objects"] + 30  # each flush read once, hour files at close
    puts = 3 * 26 + 24 * 3  # outputs and manifests; three LISTs a run (billed as PUTs)
    stored = closed["bytes"] / max(closed["rows"], 1) * scale.events_day * 30 * retention_months
    items = {
        "fixed (docs/DEPLOY.md)": FIXED_MONTHLY,
        "traffic ($3.80 per M page views)": PER_MILLION_PAGE_VIEWS * scale.page_views_month / 1e6,
        "compaction Lambda": lambda_s * LAMBDA_GB * LAMBDA_GB_S + runs * 0.2 / 1e6,
        "compaction S3 requests": 30 * (gets * S3_GET + puts * S3_PUT),
        f"lake storage ({retention_months} months kept)": stored / 1e9 * S3_GB_MONTH,
        f"dashboards ({loads_per_day} loads/day)": 30
        * loads_per_day
        * (totals["athena_usd"] + totals["get_usd"]),
    }
    items["total"] = sum(items.values())
    return items


# -- the run ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=12_000, help="visits in the realistic day")
    parser.add_argument("--scales", default="10k,100k,1M,10M,100M")
    parser.add_argument("--loads-per-day", type=int, default=20)
    parser.add_argument("--retention-months", type=int, default=12)
    parser.add_argument("--work", type=Path, help="keep the generated lakes here")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    scales = [Scale(name, SCALES[name]) for name in args.scales.split(",")]
    today = datetime.now(UTC).date()
    closed = today - timedelta(days=1)
    pool_day = today - timedelta(days=2)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="ownstats-compaction-bench-") as tmp:
        work = args.work or Path(tmp)
        if work.exists() and args.work:
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        print(f"generating {args.visits:,} realistic visits through the processor …", flush=True)
        pool = realistic_pool(args.visits, pool_day)
        page_views = pc.sum(pc.equal(pool.column("event_type"), "pageview"))
        events_per_page_view = pool.num_rows / page_views.as_py()
        pool_path = work / "pool.parquet"
        pq.write_table(pool, pool_path)
        hours = pc.value_counts(pc.hour(pool.column("event_time"))).field("counts")
        peak_factor = pc.max(hours).as_py() / (pool.num_rows / 24)
        print(f"  {pool.num_rows:,} events, {events_per_page_view:.2f} events per page view "
              f"(page view, engagement, goals); busiest hour {peak_factor:.1f}x the day's "
              "average")  # fmt: skip
        bpe = bytes_per_event_report(pool, work)

        print("\n== 2. a day of each scale, delivered minute by minute and compacted ==")
        for scale in scales:
            simulate_scale(scale, pool_path, pool_day, pool.num_rows, events_per_page_view,
                           closed, today, work)  # fmt: skip
        print("\n== 3. what one dashboard load reads (DuckDB's file log, the dashboard's SQL) ==")
        for scale in scales:
            scan_scale(scale, work, today)
        results = report(scales, args, peak_factor)
    print(f"\n(bench ran {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"bytes_per_event": bpe, "scales": results}, indent=1,
                                        default=str))  # fmt: skip
    return 0


def human(n: float) -> str:
    """Bytes as the tables show them."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}" if n < 100 * size else f"{n / size:,.0f} {unit}"
    return f"{n:.0f} B"


def report(scales: list[Scale], args: argparse.Namespace, peak_factor: float) -> list[Any]:
    out = []
    print("\n  per query, closed day | today at noon (objects, bytes; before → after):")
    for scale in scales:
        print(f"  {scale.name} page views a month:")
        for name in scale.scans["before"]:
            b, a = scale.scans["before"][name], scale.scans["after"][name]
            print(
                f"    {name:24} {b['closed']['objects']:>5,} → {a['closed']['objects']:>2,} obj, "
                f"{human(b['closed']['bytes']):>8} → {human(a['closed']['bytes']):>8} | "
                f"{b['today']['objects']:>4,} → {a['today']['objects']:>3,} obj, "
                f"{human(b['today']['bytes']):>8} → {human(a['today']['bytes']):>8}"
            )
    print("\n  columns each query reads (DuckDB's reads mapped onto the column chunks):")
    for name, columns in COLUMNS_READ.items():
        print(f"    {name:24} {', '.join(sorted(columns)) or '(footers only: pruned)'}")
    for scale in scales:
        if scale.events_day > MEASURE_UP_TO:
            print(f"  {scale.name}: not run; computed from those columns and the day's files")
            continue
        for state in ("before", "after"):
            measured = load_totals(scale, state)["bytes"]
            model = load_totals(scale, state, key="model")["bytes"]
            print(
                f"  {scale.name} {state}: DuckDB read {human(measured)} per load, the "
                f"arithmetic gives {human(model)}"
            )
    rows = []
    for scale in scales:
        before, after = load_totals(scale, "before"), load_totals(scale, "after")
        cap = capacity(scale)
        bill = monthly_bill(scale, after, args.loads_per_day, args.retention_months)
        bill_before = monthly_bill(scale, before, args.loads_per_day, args.retention_months)
        out.append(
            {"scale": scale.name, "page_views_month": scale.page_views_month,
             "events_day": scale.events_day, "before": scale.before, "after": scale.after,
             "load_before": before, "load_after": after, "capacity": cap, "bill": bill,
             "bill_without_compaction_dashboards": bill_before[
                 f"dashboards ({args.loads_per_day} loads/day)"]}
        )  # fmt: skip
        rows.append((scale, before, after, cap, bill, bill_before))

    print("\n== 4. scaling table (markdown, as in docs/DEPLOY.md) ==\n")
    print("| page views / month | events / day | objects / closed day | objects today at noon "
          "| bytes / event | scanned per dashboard load | Athena $ per load | est. latency "
          "per load |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scale, before, after, _, _, _ in rows:
        closed = scale.after["closed"]
        b_rows = scale.before["closed"]["rows"]
        print(
            f"| {scale.page_views_month:,} | {scale.events_day:,} "
            f"| {scale.before['closed']['objects']:,} → **{closed['objects']:,}** "
            f"| {scale.before['today']['objects']:,} → **{scale.after['today']['objects']:,}** "
            f"({scale.after['today']['hourly']} hourly) "
            f"| {scale.before['closed']['bytes'] / b_rows:,.0f} → "
            f"**{closed['bytes'] / closed['rows']:.1f}** "
            f"| {human(before['bytes'])} → **{human(after['bytes'])}** "
            f"| {before['athena_usd'] + before['get_usd']:.4f} → "
            f"**{after['athena_usd'] + after['get_usd']:.4f}** "
            f"| {before['latency_s']:.0f} s → **{after['latency_s']:.1f} s** |"
        )
    print("\n| page views / month | Kinesis records/s at a 10x spike → shards | Lambda "
          "concurrency (processor + compactor) | Firehose at the spike (quota 1–5 MiB/s), "
          "active partitions | closing merge of a day (2 cores, 1.8 GB) | $ / month with "
          f"compaction ({args.loads_per_day} dashboard loads a day) | dashboards without "
          "compaction |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    key = f"dashboards ({args.loads_per_day} loads/day)"
    for scale, _before, _after, cap, bill, bill_before in rows:
        print(
            f"| {scale.page_views_month:,} | {cap['records_per_s_spike']:,.0f} → "
            f"{cap['shards']} | {cap['processor_concurrency']} + 1 "
            f"| {cap['firehose_mib_s_spike']:.2f} MiB/s, 1–2 "
            f"| {scale.after['closed']['closing_merge_s']:.1f} s "
            f"| **{bill['total']:,.2f}** (dashboards {bill[key]:,.2f}, compaction "
            f"{bill['compaction Lambda'] + bill['compaction S3 requests']:,.2f}) "
            f"| {bill_before[key]:,.2f} |"
        )
    print(
        "\n  arithmetic: a load = summary (59 closed days + today) + timeseries and 5 "
        "breakdowns (29 closed days + today each) + current visitors (yesterday + today); "
        "each query is billed max(10 MB, scanned) at $5/TB, plus one S3 GET per read "
        "request ($0.0004 per 1,000). Latency is a model, not a measurement: the slowest "
        f"query of the load, {ATHENA_FIXED_S} s + {ATHENA_OBJECT_S * 1000:.2f} ms per object "
        f"+ bytes at {ATHENA_BYTES_PER_S / 1e6:.0f} MB/s. Busiest hour of the realistic day: "
        f"{peak_factor:.1f}x the average; shards are sized for {SPIKE}x."
    )
    for entry in out:
        bill = entry["bill"]
        parts = ", ".join(f"{k} {v:,.2f}" for k, v in bill.items() if k != "total")
        print(f"  {entry['scale']}: ${bill['total']:,.2f}/month = {parts}")
    for scale in scales:
        b, a = (scale.scans[s]["sites list (400 days)"] for s in ("before", "after"))
        print(
            f"  {scale.name}: the site list (once per dashboard start, 400 days) reads "
            f"{human(400 * b['closed']['bytes'])} in {400 * b['closed']['objects']:,} objects "
            f"before, {human(400 * a['closed']['bytes'])} in {400 * a['closed']['objects']:,} "
            "after"
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())

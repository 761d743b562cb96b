"""Repair: the events a day's CloudFront standard logs hold that the lake lacks, added once.

Why: every path that loses data ends in the archive. The Kinesis stream keeps records
24 h; a bad deploy of the processor, a Firehose outage longer than its retries, a poison
batch skipped after its retries or records Firehose could not convert are gone from the
stream path for good. Every beacon request is also in the standard logs, with the same
``x-edge-request-id`` as its real-time record, and ``event_id`` is a hash of that id, so
the two paths merge exactly once.

For one UTC day:

1. Read the day's standard logs from the archive (objects named
   ``<distribution>.YYYY-MM-DD-HH.<id>.gz``; the next day's first hours too, since a
   request can be logged in a later file) through ``stream_processor.standard_log`` into
   real-time records, and run each through the processor's own steps (``Processor.run``):
   the same verdicts and the same event as the stream path, except what a standard log
   lacks (docs/PROTOCOL.md, "Standard logs"). Events of other days are left to theirs.
2. Read the ``event_id`` column of the day's partition in the lake.
3. With ``apply``, write the missing events as one Parquet object with the events
   schema into the day's partition, ``repair-<digest of their ids>.parquet``: one PUT,
   so a crash leaves either nothing or the whole object; the key depends on the missing
   set only, so a rerun before the compactor merged it writes the same object again,
   and once it is merged the events are in the lake and a rerun adds nothing. The
   compactor then merges it like a Firehose delivery. Nothing goes through Firehose,
   which may be the part that failed.

Visitor ids: the processor's salt store gives a day's salt while it lives (48 h), so
repaired events count their visitors as the stream path did; after it, the store makes a
fresh salt for the day (as ``ownstats ingest`` of old logs does), and a visitor whose
events were split between the two paths counts twice that day.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import shutil
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lake_compactor.merge import _ident, _literal, connect, duckdb_type
from lake_compactor.policy import StoredObject, partition_of
from lake_compactor.store import Store
from stream_processor.schema import EVENT_COLUMNS

__all__ = ["DayRepair", "archive_logs", "repair_day", "write_events"]

log = logging.getLogger("lake_compactor")

#: ``E2ABCDEF.2026-12-04-13.a1b2c3d4.gz``: CloudFront's standard (legacy) log file name
_LOG_NAME = re.compile(r"\.(\d{4}-\d{2}-\d{2})-(\d{2})\.[^/.]+\.gz$")
#: hours of the next day's files read for a day, and of the files after an hour read for
#: that hour: a request is logged in the file of the hour CloudFront wrote it, which can
#: be after the hour it was received in (a day reads more: it is read rarely, by hand)
NEXT_DAY_HOURS = 3
NEXT_HOURS = 1
REPAIR_PREFIX = "repair-"


@dataclass
class DayRepair:
    """What one day's repair found and did (printed by ``ownstats repair``)."""

    day: str
    hour: int | None = None
    #: the last hour of a window of hours (``hour`` is its first); None: ``hour`` alone
    last_hour: int | None = None
    log_files: int = 0
    records: int = 0
    in_archive: int = 0
    in_lake: int = 0
    missing: int = 0
    added: int = 0
    key: str | None = None
    rejected: dict[str, int] = field(default_factory=dict)
    #: archive objects that could not be read to their end (a damaged or truncated
    #: gzip): the lines before the damage count, the rest of that file is set aside
    damaged: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day, "hour": self.hour, "last_hour": self.last_hour,
            "log_files": self.log_files, "records": self.records,
            "in_archive": self.in_archive, "in_lake": self.in_lake, "missing": self.missing,
            "added": self.added, "key": self.key, "rejected": self.rejected,
            "damaged": self.damaged, "seconds": round(self.seconds, 3),
        }  # fmt: skip


def archive_logs(
    listing: Iterable[StoredObject], day: str, hour: int | None = None,
    last_hour: int | None = None,
) -> list[StoredObject]:
    """The standard-log objects that may hold requests of ``day`` (or of its hours
    ``hour`` to ``last_hour``): the files of that time and of the hours after it."""
    first = datetime.fromisoformat(day).replace(hour=hour or 0)
    if hour is None:
        span = timedelta(hours=24 + NEXT_DAY_HOURS)
    else:
        span = timedelta(hours=(last_hour if last_hour is not None else hour) - hour + 1
                         + NEXT_HOURS)
    chosen = []
    for obj in listing:
        match = _LOG_NAME.search(obj.key)
        if match:
            written = datetime.fromisoformat(match.group(1)).replace(hour=int(match.group(2)))
            if first <= written < first + span:
                chosen.append(obj)
    return sorted(chosen, key=lambda o: o.key)


def _log_lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rb") as raw, io.TextIOWrapper(raw, "utf-8", errors="replace") as text:
        yield from text


#: what reading a damaged or truncated gzip raises, part way through a file
_DAMAGED = (EOFError, OSError, zlib.error)


@dataclass
class ArchiveRead:
    """The events of some standard-log files by ``event_id``, and what was not used."""

    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)


def archive_events(
    archive: Store,
    objects: list[StoredObject],
    processor: Any,
    day: str,
    workdir: Path,
    hour: int | None = None,
    last_hour: int | None = None,
) -> ArchiveRead:
    """The day's (or hour's) events in these logs.

    A file that cannot be read to its end fails that file only: the lines read before
    the damage are used (each line is a whole request), the file is named in one log
    line and in ``damaged``, and the other files are read as usual. The archive itself
    is never changed: it is the raw truth, and a later run reads the file again."""
    if hour is None:
        window = None
    else:
        start_ms = (
            int(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp()) * 1000
        )
        hours = (last_hour if last_hour is not None else hour) - hour + 1
        window = (start_ms, start_ms + hours * 3_600_000)
    from stream_processor.standard_log import MalformedLine, StandardLogReader

    read = ArchiveRead()
    rejected = read.rejected
    for obj in objects:
        path = archive.fetch(obj.key, workdir)
        lines = 0
        try:
            reader = StandardLogReader()
            for item in reader.records(_log_lines(path)):
                lines += 1
                read.records += 1
                if isinstance(item, MalformedLine):
                    rejected["malformed"] = rejected.get("malformed", 0) + 1
                    continue
                outcome = processor.run(item)
                if isinstance(outcome, tuple):
                    reason = getattr(outcome[0], "value", str(outcome[0]))
                    rejected[reason] = rejected.get(reason, 0) + 1
                elif (
                    outcome.get("event_date") == day
                    and outcome.get("event_id")
                    and (window is None or window[0] <= outcome["event_time"] < window[1])
                ):
                    read.events.setdefault(outcome["event_id"], outcome)
        except _DAMAGED as err:
            read.damaged.append(obj.key)
            log.warning(
                "repair: archive file %s unreadable after %d lines (%s); the rest of it "
                "is set aside", obj.key, lines, type(err).__name__,
            )  # fmt: skip
        finally:
            if path.is_relative_to(workdir):
                path.unlink(missing_ok=True)
    return read


def lake_event_ids(
    lake: Store, day: str, workdir: Path, events_prefix: str = "events/"
) -> set[str]:
    """Every ``event_id`` in the day's partition (Firehose's, the compactor's, repairs)."""
    keys = [o.key for o in lake.list(f"{events_prefix}event_date={day}/")
            if partition_of(o.key, events_prefix) == day]  # fmt: skip
    if not keys:
        return set()
    folder = workdir / f"lake-{uuid.uuid4().hex}"
    paths = [lake.fetch(key, folder) for key in keys]
    con = connect(workdir / "spill")
    try:
        files = "[" + ", ".join(_literal(str(p)) for p in paths) + "]"
        rows = con.execute(
            f"SELECT DISTINCT event_id FROM read_parquet({files}, union_by_name = true) "
            "WHERE event_id IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {row[0] for row in rows}


def write_events(events: list[dict[str, Any]], path: Path, workdir: Path) -> int:
    """The events, as the processor sends them to Firehose (JSON, ``event_time`` in epoch
    milliseconds), as one Parquet file with the events schema, sorted as the compactor
    sorts; the rows written."""
    from stream_processor.sinks import encode

    source = workdir / f"events-{uuid.uuid4().hex}.json"
    with source.open("wb") as out:
        for event in events:
            out.write(encode(event))
    columns = {}
    for name, glue, _ in EVENT_COLUMNS:
        columns[name] = "BIGINT" if name == "event_time" else duckdb_type(glue)
    spec = "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in columns.items()) + "}"
    select = ", ".join(
        f"CAST(epoch_ms({_ident(name)}) AS TIMESTAMP_MS) AS {_ident(name)}"
        if name == "event_time"
        else f"CAST({_ident(name)} AS {duckdb_type(glue)}) AS {_ident(name)}"
        for name, glue, _ in EVENT_COLUMNS
    )
    con = connect(workdir / "spill")
    try:
        con.execute(
            f"COPY (SELECT {select} FROM read_json({_literal(str(source))}, "
            f"format = 'newline_delimited', columns = {spec}) "
            "ORDER BY domain_name, visitor_id, event_time, event_id) "
            f"TO {_literal(str(path))} (FORMAT parquet, COMPRESSION zstd)"
        )
        (rows,) = con.execute(
            "SELECT num_rows FROM parquet_file_metadata($f)", {"f": str(path)}
        ).fetchall()[0]
    finally:
        con.close()
        source.unlink(missing_ok=True)
    return int(rows)


def repair_key(
    day: str, event_ids: Iterable[str], events_prefix: str = "events/", hour: int | None = None,
    last_hour: int | None = None,
) -> str:
    digest = hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()[:20]
    when = day if hour is None else f"{day}-{hour:02d}"
    if hour is not None and last_hour is not None and last_hour != hour:
        when += f"-{last_hour:02d}"
    return f"{events_prefix}event_date={day}/{REPAIR_PREFIX}{when}-{digest}.parquet"


def repair_day(
    archive: Store,
    lake: Store,
    day: str,
    *,
    processor: Any,
    workdir: Path,
    archive_prefix: str = "cloudfront/",
    events_prefix: str = "events/",
    apply: bool = False,
    listing: list[StoredObject] | None = None,
    checkpoint: Callable[[str], None] = lambda step: None,
    hour: int | None = None,
    last_hour: int | None = None,
) -> DayRepair:
    """Compare one day (or its hours ``hour`` to ``last_hour``, both included) of the
    archive with the lake; with ``apply``, add what is missing."""
    if hour is not None and last_hour is not None and not hour <= last_hour <= 23:
        raise ValueError(f"hours {hour}..{last_hour} are not a window of one day")
    started = time.perf_counter()
    report = DayRepair(day, hour=hour, last_hour=last_hour)
    work = workdir / f"repair-{day}-{uuid.uuid4().hex}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        listed = listing if listing is not None else archive.list(archive_prefix)
        objects = archive_logs(listed, day, hour, last_hour)
        report.log_files = len(objects)
        read = archive_events(archive, objects, processor, day, work, hour, last_hour)
        events = read.events
        report.records, report.rejected, report.damaged = read.records, read.rejected, read.damaged
        report.in_archive = len(events)
        present = lake_event_ids(lake, day, work, events_prefix)
        report.in_lake = len(present)
        missing = sorted(set(events) - present)
        report.missing = len(missing)
        if apply and missing:
            key = repair_key(day, missing, events_prefix, hour, last_hour)
            path = work / "repair.parquet"
            written = write_events([events[i] for i in missing], path, work)
            if written != len(missing):
                raise RuntimeError(f"{day}: wrote {written} rows for {len(missing)} events")
            lake.upload(path, key)
            checkpoint("repair_written")
            report.added, report.key = written, key
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def summary_line(report: DayRepair) -> str:
    return json.dumps({"repair": report.as_dict()}, sort_keys=True)

"""The compactor's second step: rewrite the rollups of every day whose events changed.

Layout (``lake_compactor.rollups``): one Parquet object per view and month,
``rollups/<view>/month=YYYY-MM/rollup.parquet``, holding that view's rows of every day of
the month; one object of visits per day, ``rollups/sessions/event_date=DAY/visits.parquet``;
and ``rollups/_index.json``, which names the view definition they were computed under,
each day's events signature (its objects' keys and sizes) and each object's size and MD5.

One run:

1. Read the index (a different definition: start from an empty one, so every day is
   recomputed), list ``events/``, and find the days whose signature differs from the
   index's, plus days the index has that are gone (retention).
2. Per month, newest first (today's numbers matter most): compute each changed day's
   rows with the views' own SQL (``rollups.compute``), merge them into the month's
   object of each view (the other days' rows kept as they were), upload, then write
   the index. ``time_left`` defers months to the next run.

A day of more events than the hosted dashboard's function loads (``LOAD_LIMIT_BYTES``)
gets more (``lake_compactor.rollups``): its cut visits (``cuts_key``) once it is closed;
and while today or yesterday is such a day, today's rollups and visits cover its whole
hours only (the index names the hour, ``until``), so the page is shown as of that hour.

Crash safety and idempotence: an object is replaced whole (an S3 PUT) and the index is
written after the month's objects. A run that dies between them leaves the index with
the days' old signatures, so the next run recomputes those days and replaces their rows
again (rows are replaced per day, never appended): the result is the same as one clean
run. A run with no changed day writes nothing. A reader may, between the two writes, see
a month object newer than the index; its rows are then one compactor run newer, which is
as correct as the index's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from athena_views import View, load_views
from lake_compactor.merge import connect
from lake_compactor.policy import StoredObject, partition_of
from lake_compactor.rollups import (
    INDEX_KEY,
    LOAD_LIMIT_BYTES,
    PARTITION,
    VISITS_VIEW,
    compute,
    cuts_key,
    definition,
    files_literal,
    month_key,
    read_rollups,
    rollup_views,
    sql_string,
    visits_key,
)
from lake_compactor.store import Store

__all__ = [
    "INDEX_VERSION",
    "RollupReport",
    "checkpoint",
    "compute_batch",
    "day_signature",
    "merge_month",
    "publish",
    "roll_up",
]

log = logging.getLogger(__name__)

#: 2: with the days' visits objects (an index of 1 recomputes every day once)
INDEX_VERSION = 2
#: Parquet bytes of events computed in one pass (a day of 100 M page views a month is
#: ~90 MB compacted; a month of 1 M, ~15 MB)
BATCH_BYTES = 256 * 1024 * 1024


def checkpoint(step: str) -> None:
    """Called after every step that changes the store (a seam for crash tests)."""


@dataclass
class RollupReport:
    """What one rollup step did (part of the compactor's JSON log line)."""

    days: list[str] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0
    deferred: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "seconds": round(self.seconds, 3)}


def day_signature(objects: Sequence[StoredObject]) -> str:
    """What a day's rollups were computed from: its objects' keys and sizes (a new
    Firehose file, a compaction or a deletion changes it; a re-listing does not)."""
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.size}\n".encode())
    return digest.hexdigest()[:32]


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def empty_index(views: Sequence[View] | None = None) -> dict[str, Any]:
    return {"version": INDEX_VERSION, "definition": definition(views), "days": {}, "files": {}}


def roll_up(
    store: Store,
    *,
    workdir: Path,
    events_prefix: str = "events/",
    clock: Callable[[], float] = time.time,
    time_left: Callable[[], float] | None = None,
    min_time_left_s: float = 60,
    views: Sequence[View] | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    load_limit: int = LOAD_LIMIT_BYTES,
    zones: str = "",
) -> RollupReport:
    """One rollup step over the store (see the module docstring). ``zones``: the sites'
    time zones (``-c time_zone``), whose local days are rolled up too
    (``lake_compactor.zoned_rollups``)."""
    views = load_views() if views is None else views
    moment = datetime.fromtimestamp(clock(), UTC).replace(tzinfo=None)
    today = moment.date().isoformat()
    hour = moment.replace(minute=0, second=0, microsecond=0)
    report = RollupReport()
    started = time.perf_counter()
    index = store.get_json(INDEX_KEY)
    fresh = empty_index(views)
    if (
        not index
        or index.get("version") != INDEX_VERSION
        or index.get("definition") != fresh["definition"]
    ):
        index = fresh
    partitions: dict[str, list[StoredObject]] = {}
    for obj in store.list(events_prefix):
        day = partition_of(obj.key, events_prefix)
        if day is not None:
            partitions.setdefault(day, []).append(obj)
    signatures = {day: day_signature(objs) for day, objs in partitions.items()}
    big = {day for day, objs in partitions.items() if sum(o.size for o in objs) > load_limit}
    # at that size (today or yesterday too big to load), today's whole hours: the page is
    # shown as of the hour, compared with the earlier days' cut visits of that hour
    yesterday = (moment.date() - timedelta(days=1)).isoformat()
    scale = today in big or yesterday in big
    until = {today: hour.isoformat()} if scale and today in partitions else {}
    known = index["days"]
    changed = {
        day
        for day, sig in signatures.items()
        if known.get(day, {}).get("signature") != sig
        or known[day].get("until") != until.get(day)
        or (day in big and day not in until and cuts_key(day) not in index["files"])
    }
    changed |= set(known) - set(partitions)
    months: dict[str, list[str]] = {}
    for day in changed:
        months.setdefault(day[:7], []).append(day)
    for month in sorted(months, reverse=True):
        if time_left is not None and time_left() < min_time_left_s:
            report.deferred.append(month)
            continue
        days = sorted(months[month])
        try:
            written = _roll_month(
                store, month, days, partitions, index, views,
                workdir=workdir / f"rollup-{uuid.uuid4().hex}", threads=threads,
                memory_limit=memory_limit, until=until, cut_days=big - set(until),
            )  # fmt: skip
        except Exception as err:  # one month's failure must not stop the others
            log.exception("rollups: month %s", month)
            report.errors.append(f"{month}: {type(err).__name__}: {err}")
            continue
        for day in days:
            if day in partitions:
                known[day] = {"signature": signatures[day], "objects": len(partitions[day])}
                if day in until:
                    known[day]["until"] = until[day]
            else:
                known.pop(day, None)
        index["updated_at"] = clock()
        store.put_json(INDEX_KEY, index)
        checkpoint("index_written")
        report.days += days
        report.months.append(month)
        report.objects += len(written)
        report.bytes += sum(written.values())
    if zones or index.get("zones"):
        from lake_compactor.zoned_rollups import roll_up_zones  # (it imports this module)

        roll_up_zones(
            store, zones, index, partitions, signatures, views, report,
            workdir=workdir, until=until, big=big, time_left=time_left,
            min_time_left_s=min_time_left_s, clock=clock, threads=threads,
            memory_limit=memory_limit,
        )  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report


def _roll_month(
    store: Store,
    month: str,
    days: list[str],
    partitions: dict[str, list[StoredObject]],
    index: dict[str, Any],
    views: Sequence[View],
    *,
    workdir: Path,
    threads: int | None,
    memory_limit: str | None,
    until: dict[str, str],
    cut_days: set[str],
) -> dict[str, int]:
    """Recompute ``days`` of ``month`` and replace them in each view's month object;
    updates ``index["files"]``; the uploaded keys with their sizes. A day of ``until``
    is computed alone over its events before that hour; ``cut_days`` get cut visits."""
    written: dict[str, int] = {}
    try:
        computed: list[dict[str, Path]] = []
        # days computed together (every rolled-up view groups by event_date), so the
        # views are set up once per batch, not once per day; a batch stays under
        # BATCH_BYTES of Parquet so a busy month never meets the function's memory
        batches: list[list[str]] = []
        size = 0
        for day in (d for d in days if d in partitions and d not in until):  # (a gone day's
            day_bytes = sum(o.size for o in partitions[day])  # rows are dropped below)
            if not batches or size + day_bytes > BATCH_BYTES:
                batches.append([])
                size = 0
            batches[-1].append(day)
            size += day_bytes
        # a day of ``until`` alone: only its events before the hour
        batches = [[d] for d in days if d in partitions and d in until] + batches
        for number, batch in enumerate(batches):
            cutoff = until.get(batch[0])
            computed.append(
                compute_batch(
                    store, batch, partitions, workdir, number, views, threads=threads,
                    memory_limit=memory_limit,
                    until=datetime.fromisoformat(cutoff) if cutoff else None,
                    cut_days=[d for d in batch if d in cut_days],
                )
            )  # fmt: skip
        con = connect(workdir / "spill", threads=threads, memory_limit=memory_limit)
        try:
            _write_visits(
                store, con, days, batches, computed, index, workdir, written, cut_days,
                visit_days={d for batch in batches for d in batch},
            )  # fmt: skip
            for view in rollup_views(views):
                new = [c[view] for c in computed]
                merge_month(store, con, month_key(view, month), new, days, index, workdir, written)
        finally:
            con.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return written


def compute_batch(
    store: Store,
    days: Sequence[str],
    partitions: dict[str, list[StoredObject]],
    workdir: Path,
    number: int,
    views: Sequence[View],
    *,
    threads: int | None,
    memory_limit: str | None,
    **options: Any,
) -> dict[str, Path]:
    """``rollups.compute`` (with ``options``) over the events objects of ``days``, fetched
    into the work folder for this pass only; its output files by view."""
    # the partition folder gives the files their event_date, as in the lake
    fetched = [
        store.fetch(obj.key, workdir / "in" / f"{PARTITION}={day}")
        for day in days
        for obj in sorted(partitions.get(day, []), key=lambda o: o.key)
    ]
    con = connect(workdir / "spill", threads=threads, memory_limit=memory_limit)
    try:
        return compute(con, fetched, workdir / "out" / str(number), views, **options)
    finally:
        con.close()
        shutil.rmtree(workdir / "in", ignore_errors=True)


def merge_month(
    store: Store,
    con: Any,
    key: str,
    new: list[Path],
    days: Sequence[str],
    index: dict[str, Any],
    workdir: Path,
    written: dict[str, int],
) -> None:
    """Replace ``days``' rows of one month object by those of ``new`` (computed files),
    keeping the other days' rows as they were; an object left with no row is deleted."""
    sources = [f"SELECT * FROM {read_rollups(files_literal(new))}"] if new else []
    if key in index["files"]:
        old = store.fetch(key, workdir / "old")
        replaced = ", ".join(sql_string(d) for d in days)
        sources.insert(
            0,
            f"SELECT * FROM {read_rollups(sql_string(str(old)))} "
            f"WHERE {PARTITION} NOT IN ({replaced})",
        )
    if not sources:
        return
    merged = workdir / "merged" / key.replace("/", "_")
    merged.parent.mkdir(parents=True, exist_ok=True)
    union = " UNION ALL BY NAME ".join(sources)
    rows = con.execute(f"SELECT count(*) FROM ({union})").fetchone()[0]
    if not rows:
        if key in index["files"]:
            store.delete([key])
            del index["files"][key]
        return
    con.execute(
        f"COPY (SELECT * FROM ({union}) ORDER BY {PARTITION}) "
        f"TO {sql_string(str(merged))} (FORMAT parquet, COMPRESSION zstd)"
    )
    publish(store, merged, key, rows, index, written, "rollup_written")


def publish(
    store: Store,
    path: Path,
    key: str,
    rows: int,
    index: dict[str, Any],
    written: dict[str, int],
    step: str,
) -> None:
    """Upload one rollup object whole and name it in the index (which the caller writes
    after the month's objects)."""
    store.upload(path, key)
    checkpoint(step)
    size = path.stat().st_size
    index["files"][key] = {"size": size, "md5": _md5(path), "rows": int(rows)}
    written[key] = size


def _write_visits(
    store: Store,
    con: Any,
    days: list[str],
    batches: list[list[str]],
    computed: list[dict[str, Path]],
    index: dict[str, Any],
    workdir: Path,
    written: dict[str, int],
    cut_days: set[str],
    *,
    visit_days: set[str],
    zone: str | None = None,
) -> None:
    """The visits of each recomputed day of ``visit_days`` as its own object
    (``visits_key``), and the cut visits of ``cut_days`` (``cuts_key``, even with no
    rows: no visit spanned a whole hour); the other days' are deleted. Before the index,
    as the month objects: a crash in between leaves the index with the day's old
    signature, which no reader trusts for the day's new objects. With ``zone``: local
    days on its clock (``lake_compactor.zoned_rollups``)."""
    cut: set[str] = set()
    stored: set[str] = set()
    for batch, paths in zip(batches, computed, strict=True):
        for kind, keyed, step in (
            (VISITS_VIEW, visits_key, "visits_written"),
            ("cuts", cuts_key, "cuts_written"),
        ):
            source = paths.get(kind)
            if source is None:
                continue
            for day in sorted((cut_days if kind == "cuts" else visit_days) & set(batch)):
                rows = con.execute(
                    f"SELECT count(*) FROM {read_rollups(sql_string(str(source)))} "
                    f"WHERE {PARTITION} = {sql_string(day)}"
                ).fetchone()[0]  # type: ignore[index]
                out = workdir / kind / f"{day}.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                con.execute(
                    f"COPY (SELECT * FROM {read_rollups(sql_string(str(source)))} "
                    f"WHERE {PARTITION} = {sql_string(day)}) "
                    f"TO {sql_string(str(out))} (FORMAT parquet, COMPRESSION zstd)"
                )
                publish(store, out, keyed(day, zone), rows, index, written, step)
                (cut if kind == "cuts" else stored).add(day)
    gone = [visits_key(d, zone) for d in days if d not in stored]
    # a day recomputed without cut visits (today, or no longer too big) keeps none
    gone += [cuts_key(d, zone) for d in days if d not in cut]
    stale = [key for key in gone if key in index["files"]]
    if stale:
        store.delete(stale)
        for key in stale:
            del index["files"][key]

"""Rollups of the sites on their own clock: each view's rows per *local* day.

Why: a site shown in its own time zone (``-c time_zone``) has no whole UTC day to read
from the UTC rollups, so its dashboard computed every panel from events: a year at
1 M page views a month went to Athena. The compactor therefore also stores, per zone
in use, each view's rows of every local day, computed by the views' own SQL over the
sites' events relabelled to that clock (``athena_views.zoned.local_events``, the SQL
the dashboard runs on the same events). A local day spans parts of two UTC days; the
daily salt changes at UTC midnight, so its visits are those of its two parts and are
computed here from those two days' events. Its rows are replaced whenever either day
changes: its index signature is that of the UTC days it spans (and of which sites are
on the clock).

Layout: ``rollups/zones/<zone, quoted>/<view>/month=YYYY-MM/rollup.parquet`` (local
months), beside the views' folders so no UTC table reads them, and the index's
``zones`` entry: ``{zone: {"sites": condition, "days": {local day: {"signature": …}}}}``.
Same protocol as the UTC rollups (``lake_compactor.roll_up``): month objects whole,
then the index, so a crash leaves days whose old signature makes the next run redo
them.

At the size where the hosted function loads no day's events (``LOAD_LIMIT_BYTES``), the
compactor rolls UTC today up by whole hours (``until``) and the page is shown as of that
hour; here, as of the last whole hour on the zone's clock before it (``hour_start``: on
a zone half an hour off UTC, half an hour earlier). A local day that touches such a day
is rolled up whole if it ended by then, as of that hour if it is under way (the index
names the hour, ``until``; and its visits are stored, as today's on UTC's clock), not at
all if it starts later; its signature names the UTC day's hour, not its objects, as the
UTC day's own rollups are read as of the hour. And a local day that touches a day too
big to load gets its visits and cut visits (``visits_key``/``cuts_key`` with the zone):
"the previous period until 14:00" on the zone's clock is then read, not computed from
events.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from athena_views import View, to_duckdb
from athena_views.zoned import day_window, hour_start, local_events, time_zones, utc_days
from lake_compactor.merge import connect
from lake_compactor.policy import StoredObject
from lake_compactor.roll_up import (
    BATCH_BYTES,
    RollupReport,
    _write_visits,
    checkpoint,
    compute_batch,
    merge_month,
)
from lake_compactor.rollups import (
    BASE_VIEW,
    INDEX_KEY,
    cuts_key,
    rollup_views,
    sql_string,
    zone_prefix,
    zoned_month_key,
)
from lake_compactor.store import Store
from stream_processor.schema import COLUMN_NAMES

__all__ = ["day_sources", "roll_up_zones", "zone_sites"]

log = logging.getLogger(__name__)


def zone_sites(spec: str) -> dict[str, str]:
    """Each zone in use under a ``time_zones`` setting → the SQL condition on
    ``domain_name`` of the sites on its clock (the default zone: every site not named
    with another one)."""
    default, per_site = time_zones(spec)
    zones: dict[str, str] = {}
    for zone in {z for z in [default, *per_site.values()] if z is not None}:
        if zone == default:
            others = sorted(site for site, z in per_site.items() if z != zone)
            zones[zone] = (
                f"domain_name NOT IN ({', '.join(sql_string(s) for s in others)})"
                if others
                else "domain_name IS NOT NULL"
            )
        else:
            mine = sorted(site for site, z in per_site.items() if z == zone)
            zones[zone] = f"domain_name IN ({', '.join(sql_string(s) for s in mine)})"
    return zones


def day_sources(zone: str, day: str) -> list[str]:
    """The UTC days (partitions) local ``day`` on ``zone``'s clock spans."""
    return [d.isoformat() for d in utc_days(*day_window(zone, date.fromisoformat(day)))]


def _local_days(zone: str, utc: set[str]) -> set[str]:
    """The local days that span any of the UTC days ``utc``."""
    found = set()
    for day in utc:
        for n in (-1, 0, 1):
            local = (date.fromisoformat(day) + timedelta(days=n)).isoformat()
            if day in day_sources(zone, local):
                found.add(local)
    return found


def signature(
    zone: str,
    condition: str,
    day: str,
    signatures: dict[str, str],
    until: dict[str, str] | None = None,
) -> str:
    """What a local day's rows were computed from: its UTC days' signatures (a day rolled
    up by whole hours: the hour, ``until``) and the sites on the clock."""
    digest = hashlib.sha256(f"{zone}\0{condition}\n".encode())
    for source in day_sources(zone, day):
        hour = (until or {}).get(source)
        state = f"until {hour}" if hour else signatures.get(source, "")
        digest.update(f"{source}\0{state}\n".encode())
    return digest.hexdigest()[:32]


def as_of(zone: str, day: str, until: dict[str, str]) -> datetime | bool | None:
    """How a local day touching a UTC day rolled up by whole hours is rolled up: whole
    (None: it ended by the zone's last whole hour before ``until``'s hour), as of that
    hour (naive UTC), or not at all (False: it starts later). None for any other day."""
    if not until or not set(day_sources(zone, day)) & set(until):
        return None
    cutoff = hour_start(zone, datetime.fromisoformat(max(until.values())))
    low, high = day_window(zone, date.fromisoformat(day))
    if high <= cutoff:
        return None
    return cutoff if low <= cutoff else False


def roll_up_zones(
    store: Store,
    spec: str,
    index: dict[str, Any],
    partitions: dict[str, list[StoredObject]],
    signatures: dict[str, str],
    views: Sequence[View],
    report: RollupReport,
    *,
    workdir: Path,
    until: dict[str, str],
    big: set[str],
    time_left: Callable[[], float] | None,
    min_time_left_s: float,
    clock: Callable[[], float],
    threads: int | None,
    memory_limit: str | None,
) -> None:
    """Bring every zone's local days up to date (module docstring); ``until``: UTC days
    rolled up by whole hours, to which hour; ``big``: UTC days too big to load. Zones no
    longer in use are deleted."""
    zones = zone_sites(spec)
    stored = index.setdefault("zones", {})
    for zone in sorted(set(stored) - set(zones)):
        gone = [key for key in index["files"] if key.startswith(zone_prefix(zone))]
        if gone:
            store.delete(gone)
        for key in gone:
            del index["files"][key]
        del stored[zone]
        store.put_json(INDEX_KEY, index)
    for zone, condition in sorted(zones.items()):
        entry = stored.get(zone)
        if entry is None or entry.get("sites") != condition:
            entry = stored[zone] = {"sites": condition, "days": {}}
        known = entry["days"]
        cutoffs = {day: as_of(zone, day, until) for day in _local_days(zone, set(partitions))}
        wanted = {
            day: signature(zone, condition, day, signatures, until)
            for day, cutoff in cutoffs.items()
            if cutoff is not False
        }
        upto = {d: c.isoformat() for d, c in cutoffs.items() if isinstance(c, datetime)}
        # (today's hours while it, or yesterday, is too big: its local days are cut too)
        loadless = big | set(until)
        cut_days = {
            d for d, c in cutoffs.items() if c is None and set(day_sources(zone, d)) & loadless
        }
        changed = {
            d
            for d, sig in wanted.items()
            if known.get(d, {}).get("signature") != sig
            or known[d].get("until") != upto.get(d)
            or (d in cut_days and cuts_key(d, zone) not in index["files"])
        }
        changed |= {d for d in known if d not in cutoffs}  # (gone: no events left)
        months: dict[str, list[str]] = {}
        for day in changed:
            months.setdefault(day[:7], []).append(day)
        for month in sorted(months, reverse=True):
            if time_left is not None and time_left() < min_time_left_s:
                report.deferred.append(f"{zone} {month}")
                continue
            days = sorted(months[month])
            try:
                written = _roll_zone_month(
                    store, zone, condition, month, days, partitions, index, views,
                    workdir=workdir / f"zoned-{uuid.uuid4().hex}", threads=threads,
                    memory_limit=memory_limit, upto=upto, cut_days=cut_days,
                )  # fmt: skip
            except Exception as err:  # one month's failure must not stop the others
                log.exception("rollups: %s month %s", zone, month)
                report.errors.append(f"{zone} {month}: {type(err).__name__}: {err}")
                continue
            for day in days:
                if day in wanted:
                    known[day] = {"signature": wanted[day]}
                    if day in upto:
                        known[day]["until"] = upto[day]
                else:
                    known.pop(day, None)
            index["updated_at"] = clock()
            store.put_json(INDEX_KEY, index)
            checkpoint("index_written")
            report.days += [f"{zone} {d}" for d in days]
            report.months.append(f"{zone} {month}")
            report.objects += len(written)
            report.bytes += sum(written.values())


def _runs(days: list[str], partitions: dict[str, list[StoredObject]], zone: str) -> list[list[str]]:
    """``days`` (sorted) in runs of consecutive local days computed together, each run's
    UTC days under ``BATCH_BYTES`` of events (one day at least)."""
    runs: list[list[str]] = []
    sources: set[str] = set()
    for day in days:
        extra = set(day_sources(zone, day))
        size = sum(o.size for d in sources | extra for o in partitions.get(d, ()))
        follows = runs and date.fromisoformat(day) - date.fromisoformat(runs[-1][-1]) == timedelta(
            days=1
        )
        if follows and size <= BATCH_BYTES:
            runs[-1].append(day)
            sources |= extra
        else:
            runs.append([day])
            sources = extra
    return runs


def _roll_zone_month(
    store: Store,
    zone: str,
    condition: str,
    month: str,
    days: list[str],
    partitions: dict[str, list[StoredObject]],
    index: dict[str, Any],
    views: Sequence[View],
    *,
    workdir: Path,
    threads: int | None,
    memory_limit: str | None,
    upto: dict[str, str],
    cut_days: set[str],
) -> dict[str, int]:
    """Recompute local ``days`` of ``month`` and replace them in the zone's month
    objects (a day of ``upto`` alone, over its events before that hour, with its visits),
    with the visits and cut visits of ``cut_days``; the uploaded keys with their sizes."""
    written: dict[str, int] = {}
    try:
        computed: list[dict[str, Path]] = []
        present = [d for d in days if any(s in partitions for s in day_sources(zone, d))]
        runs = [[d] for d in present if d in upto]
        runs += _runs([d for d in present if d not in upto], partitions, zone)
        for number, run in enumerate(runs):
            low, high = day_window(zone, date.fromisoformat(run[0]), date.fromisoformat(run[-1]))
            if run[0] in upto:
                high = datetime.fromisoformat(upto[run[0]])
            deduped = to_duckdb(  # (the dashboard's Athena SQL, as DuckDB runs it)
                local_events(zone, low, high, condition, COLUMN_NAMES, source=f"live.{BASE_VIEW}")
            )
            sources = sorted({s for d in run for s in day_sources(zone, d)})
            cut = [d for d in run if d in cut_days]
            computed.append(
                compute_batch(
                    store, sources, partitions, workdir, number, views, threads=threads,
                    memory_limit=memory_limit, deduped=deduped,
                    visits=bool(cut) or run[0] in upto, cut_days=cut,
                )
            )  # fmt: skip
        con = connect(workdir / "spill", threads=threads, memory_limit=memory_limit)
        try:
            _write_visits(
                store, con, days, runs, computed, index, workdir, written, cut_days,
                zone=zone, visit_days=cut_days | set(upto),
            )  # fmt: skip
            for view in rollup_views(views):
                key = zoned_month_key(zone, view, month)
                new = [c[view] for c in computed]
                merge_month(store, con, key, new, days, index, workdir, written)
        finally:
            con.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return written

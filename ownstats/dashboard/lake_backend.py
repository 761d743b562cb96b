"""The hosted dashboard's own engine: DuckDB in the Lambda over rollups and recent events.

Why: Athena answers in seconds (queueing, planning, a 10 MB minimum per query); a page
load that waits on a dozen of them is slow and billed per query. The compactor already
stores every closed day's per-view rows (``lake_compactor.rollups``), a few small
objects per view and month, so the function reads those objects and answers the
dashboard's SQL itself:

- a rolled-up view (``daily_stats``, ``top_pages``, …) is its month objects' rows for
  the days whose rollups were computed from the objects the day holds now (the index
  names each day's signature), plus *the view's own SQL* over the events of the other
  days: today, as soon as Firehose has delivered since the compactor's last run, and
  any day the rollups lack or hold an older state of;
- events are loaded per day (downloaded once, kept in ``/tmp`` by key, deduplicated and
  sessionised once per change of the day's objects): those days, any day a query needs
  rows of (a cut of a closed day for "previous period until now", a filtered panel's
  visits) and, for the live counter, today and yesterday, while the events involved
  stay under ``max_event_bytes``. A day's visits stored by the compactor from the
  objects it holds now are read, not computed; a closed day that one day-compaction
  wrote is read where it lies (its files are its ``events_deduped`` rows, copied
  nowhere);
- a day too big to load (today at ~50 M page views a month and more) answers its
  rolled-up views from its rollups as the compactor last wrote them, its visits from its
  stored visits (read where they lie), and the live counter and freshness check from its
  objects of the last ``TAIL_S`` seconds. While such a day is today the compactor rolls
  it up by whole hours, and the page is shown as of that hour (``as_of``): today until
  14:00, compared with the earlier day until 14:00, which is read from that day's stored
  and cut visits (``_with_cuts``), not computed from its events;
- anything beyond that (a filtered year, a cut of a day too big at another moment) is
  not answered here: ``answers`` says so and the caller (``hosted.RoutedBackend``) asks
  Athena.

Which days a query needs is read from its own ``event_date`` predicates (every query of
``ownstats.dashboard.queries`` bounds its range so, as partition pruning on Athena needs);
a query that reads events without a bound is never answered here.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from athena_views import View, create_view_statement, load_views, to_duckdb, view_references
from athena_views.zoned import (
    day_window,
    local_days,
    site_zone,
    time_zones,
    to_local,
    utc_days,
)
from lake_compactor.policy import StoredObject, partition_of, run_of, tier_of
from lake_compactor.roll_up import day_signature
from lake_compactor.rollups import (
    BASE_VIEW,
    CUT_HOUR,
    INDEX_KEY,
    LOAD_LIMIT_BYTES,
    PARTITION,
    VISITS_VIEW,
    cuts_key,
    definition,
    empty_events_select,
    events_select,
    files_literal,
    read_rollups,
    rollup_views,
    sql_string,
    timestamp_sql,
    visits_key,
    zone_prefix,
)
from lake_compactor.validate import PARQUET_PATH
from lake_compactor.zoned_rollups import day_sources
from lake_compactor.zoned_rollups import signature as zoned_signature
from ownstats.dashboard import queries
from ownstats.results import QueryError, QueryResult

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "LakeBackend", "date_bounds"]

log = logging.getLogger(__name__)

#: events this function loads for one query at most (compressed Parquet bytes); above it
#: Athena answers. A day of 1 M page views a month is ~1 MB; see docs/DASHBOARD.md. The
#: compactor prepares days above it for being read without their events
DEFAULT_MAX_EVENT_BYTES = LOAD_LIMIT_BYTES
#: a day too big to load still answers the live counter and the freshness check from
#: its objects written in the last TAIL_S seconds: every event of the last minutes is in
#: one of them (an object is written after the events it holds arrive)
TAIL_S = 600.0
#: ... and a statement that reads only events since a moment at most WINDOW_S ago (the
#: realtime view: its last 30 minutes compared with the 30 before, from the minute's
#: start) from the objects written since that moment
WINDOW_S = 3900.0
#: objects fetched side by side (S3's latency, not its bandwidth, is the limit)
FETCH_THREADS = 8
#: relations with a row per event or visit: readable here only for loaded days (and
#: ``sessions`` for days whose stored visits are read in place)
ROW_LEVEL = frozenset({"events", BASE_VIEW, "sessions", "page_views", "current_visitors"})
#: the cut visits of the days whose stored visits are read in place (``_with_cuts``)
CUTS_VIEW = "sessions__cuts"
#: views a page reads over a cut day that can be read from stored and cut visits, or
#: (``hourly_stats``: a row per hour) from the day's rollups
CUTTABLE = frozenset({VISITS_VIEW, "daily_stats", "hourly_stats"})
#: a statement on a zone's clock (``LakeBackend._with_zones``): what runs, the same with
#: its tables' SQL inline, those tables → (their SQL, zone, first and last local day),
#: which rewrites it took ("rollups", "visits", "cuts") and the (zone, local day, whether
#: its cut visits too) whose stored visits it reads
Hold = tuple[str, str, bool]
Rewrite = tuple[str, str, dict[str, tuple[str, str, date, date]], frozenset[str], frozenset[Hold]]
#: in the name of a view over a zone's rollups (``_zoned_name``)
ZONED_MARK = "__zone_"
_SEARCH_PATH = "SET search_path = 'main,live'"
#: SQL never makes DuckDB download or load an extension
_NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def _damage(path: Path, md5: str | None, con: duckdb.DuckDBPyConnection) -> str | None:
    """Why a fetched rollup object cannot be used (None if it can): its bytes are not
    those the index names (the compactor wrote them as DuckDB read them back), or, for
    an index without digests, DuckDB cannot read it as Parquet."""
    if md5 is not None:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return None if digest.hexdigest() == md5 else "its bytes differ from the index's MD5"
    cursor = con.cursor()
    try:
        cursor.execute(f"SELECT count(*) FROM read_parquet({sql_string(str(path))})").fetchall()
    except duckdb.Error as err:
        return f"not readable Parquet: {str(err).splitlines()[0][:200]}"
    finally:
        cursor.close()
    return None


@functools.lru_cache(maxsize=512)
def _parsed(sql: str) -> exp.Expression | None:
    """A query's tree, read and never changed here; cached, as ``to_duckdb`` is: a page
    sends the same dozen statements on every load, and parsing them under the lock was
    a tenth of a warm load."""
    try:
        return sqlglot.parse_one(sql, read="athena")
    except sqlglot.errors.SqlglotError:
        return None


def _live_kind(tree: exp.Expression | None) -> str | None:
    """ "visitors" for a statement that reads ``current_visitors`` only, "newest" for one
    whose only result is ``max(event_time)`` of events, else None."""
    if not isinstance(tree, exp.Select):
        return None
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    if tables == {"current_visitors"}:
        return "visitors"
    selected = [e.unalias() for e in tree.expressions]
    if (
        tables <= {"events", BASE_VIEW}
        and len(selected) == 1
        and isinstance(selected[0], exp.Max)
        and isinstance(selected[0].this, exp.Column)
        and selected[0].this.name.lower() == "event_time"
        and tree.args.get("group") is None
    ):
        return "newest"
    return None


def _source(select: exp.Expression) -> Any:
    """A SELECT's FROM clause (sqlglot names the argument ``from_``, older ``from``)."""
    return select.args.get("from_") or select.args.get("from")


def _conjuncts(select: exp.Expression) -> list[exp.Expression]:
    """The AND-ed conditions of a SELECT's WHERE ([] without one)."""
    where = select.args.get("where")
    if where is None:
        return []
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def _event_time_bound(part: exp.Expression, kind: type[exp.Expression]) -> datetime | None:
    """The moment of ``event_time <op> TIMESTAMP '…'`` for the comparison ``kind`` (as
    ``queries.period_events`` writes it), else None."""
    if not (isinstance(part, kind) and isinstance(part.this, exp.Column)):
        return None
    moment = part.expression
    if part.this.name.lower() != "event_time" or not isinstance(moment, exp.Cast):
        return None
    with contextlib.suppress(ValueError, TypeError):
        return datetime.fromisoformat(str(moment.this.this))
    return None


def _event_reads(node: exp.Expression) -> Iterator[tuple[list[exp.Expression], str | None]]:
    """Each SELECT straight from ``events_deduped`` inside ``node``: its AND-ed
    conditions and the site its ``domain_name = '…'`` names (None without one)."""
    for select in node.find_all(exp.Select):
        source = _source(select)
        if source is None or not isinstance(source.this, exp.Table):
            continue
        if source.this.name.lower() != BASE_VIEW:
            continue
        parts = _conjuncts(select)
        site = None
        for part in parts:
            if isinstance(part, exp.EQ) and isinstance(part.this, exp.Column):
                value = part.expression
                if part.this.name.lower() == "domain_name" and isinstance(value, exp.Literal):
                    site = value.this
        yield parts, site


def _cut_of(node: exp.Expression) -> tuple[str, str, datetime] | None:
    """(site, day, until) of the first unfiltered cut of a day's events inside ``node``
    (``queries.period_events``: one day, one site, ``event_time`` before a moment), or
    None. The caller checks the whole subquery against ``queries.cut_sql`` of these."""
    for parts, site in _event_reads(node):
        day = until = None
        for part in parts:
            if isinstance(part, exp.Between) and _is_day_column(part.this):
                low, high = _literal_day(part.args.get("low")), _literal_day(part.args.get("high"))
                day = low if low == high else None
            else:
                until = _event_time_bound(part, exp.LT) or until
        if day and site and until and len(parts) == 3:
            return site, day, until
    return None


def _zoned_name(zone: str, view: str) -> str:
    """The view over ``view``'s rows of local days on ``zone``'s clock."""
    return f"{view}{ZONED_MARK}{re.sub(r'[^a-z0-9]+', '_', zone.lower())}"


def _zoned_reads(node: exp.Expression) -> Iterator[tuple[str, datetime, datetime]]:
    """(site, low, high) of each read of a site's events on its own clock inside
    ``node`` (``queries.zoned_events_sql``: one site, ``event_time`` from a moment to
    another). The caller checks the subquery around it against the SQL it stands for."""
    for parts, site in _event_reads(node):
        low = high = None
        for part in parts:
            low = _event_time_bound(part, exp.GTE) or low
            high = _event_time_bound(part, exp.LT) or high
        if site and low and high and len(parts) == 4:
            yield site, low, high


def _zoned_of(node: exp.Expression) -> tuple[str, datetime, datetime] | None:
    """The first of ``_zoned_reads`` (an unfiltered page's whole local days of a view,
    checked against ``queries.zoned_days_sql``), or None."""
    return next(_zoned_reads(node), None)


def _digest(site: str, first: date, last: date) -> str:
    """A short name part for a site's run of local days."""
    return hashlib.sha256(f"{site}\0{first}\0{last}".encode()).hexdigest()[:12]


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _window(tree: exp.Expression | None) -> datetime | None:
    """The earliest moment a statement reads events from, if every reference to the
    events is bounded so (``queries.period_events`` of a realtime span: ``event_time >=
    since``) and it reads no other relation of the lake; else None."""
    if tree is None:
        return None
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    earliest = None
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name in ctes:
            continue
        if name not in ("events", BASE_VIEW):
            return None  # a rolled-up view or visits: days, not minutes
        select = table.find_ancestor(exp.Select)
        parts = _conjuncts(select) if select is not None else []
        bounds = [b for part in parts if (b := _event_time_bound(part, exp.GTE)) is not None]
        if not bounds:
            return None
        bound = bounds[-1]
        earliest = bound if earliest is None else min(earliest, bound)
    return earliest


def _literal_day(node: exp.Expression | None) -> str | None:
    if isinstance(node, exp.Literal) and node.is_string:
        value = node.this
        try:
            date.fromisoformat(value)
        except ValueError:
            return None
        return value
    return None


def _is_day_column(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Column) and node.name.lower() == PARTITION


def _predicate_range(node: exp.Expression, upper: str) -> tuple[str, str] | bool | None:
    """The day range one ``event_date`` predicate allows: a (low, high) pair, None if it
    is open below, False if ``node`` is no such predicate."""
    if isinstance(node, exp.Between) and _is_day_column(node.this):
        low, high = _literal_day(node.args.get("low")), _literal_day(node.args.get("high"))
        return (low, high) if low and high else None
    if isinstance(node, exp.EQ | exp.GTE | exp.GT | exp.LTE | exp.LT):
        left, right = node.this, node.expression
        if _is_day_column(left) and (day := _literal_day(right)):
            below = isinstance(node, exp.GTE | exp.GT)  # event_date >= 'x'
        elif _is_day_column(right) and (day := _literal_day(left)):
            below = isinstance(node, exp.LTE | exp.LT)  # 'x' <= event_date
        else:
            return False
        if isinstance(node, exp.EQ):
            return (day, day)
        return (day, upper) if below else None  # bounded above only: every older day
    if isinstance(node, exp.In) and _is_day_column(node.this):
        days = sorted(d for e in node.expressions if (d := _literal_day(e)))
        if not days or len(days) != len(node.expressions):
            return None
        return (days[0], days[-1])
    return False


def _ranges(
    nodes: Any, upper: str, owner: exp.Expression | None = None
) -> list[tuple[str, str]] | None:
    ranges: list[tuple[str, str]] = []
    for node in nodes:
        if owner is not None and node.find_ancestor(exp.Select) is not owner:
            continue  # a predicate of a nested query, about its own tables
        found = _predicate_range(node, upper)
        if found is None:
            return None
        if found:
            ranges.append(found)  # type: ignore[arg-type]
    return ranges


def date_bounds(sql: str, today: date) -> list[tuple[str, str]] | None:
    """The ``event_date`` ranges anywhere in ``sql`` (each predicate's own): [] if it has
    none, None if some predicate leaves a range open below."""
    return _ranges(sqlglot.parse_one(sql, read="athena").walk(), today.isoformat())


def table_days(table: exp.Table, today: date) -> list[tuple[str, str]] | None:
    """The day ranges that apply to one table reference: the ``event_date`` predicates
    of the nearest enclosing query that has some ([] if none does; None if open)."""
    upper = today.isoformat()
    node = table.parent
    while node is not None:
        if isinstance(node, exp.Select) and node.args.get("where") is not None:
            found = _ranges(node.args["where"].walk(), upper, owner=node)
            if found is None or found:
                return found
        node = node.parent
    return []


class LakeBackend:
    """Answers the dashboard's Athena SQL from rollups and loaded days (module docstring).

    ``store`` is the lake (``lake_compactor.store.S3Store`` on AWS); ``cache_dir`` keeps
    downloaded objects between invocations of a warm function.
    """

    #: the site list may read ``daily_stats`` (one row per site and day) instead of events
    rollups = True

    def __init__(
        self,
        store: Any,
        cache_dir: Path,
        *,
        today: Callable[[], date],
        events_prefix: str = "events/",
        recent_days: int = 2,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        refresh_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        views: Sequence[View] | None = None,
        memory_limit: str | None = None,
        clock: Callable[[], float] = time.time,
        tail_s: float = TAIL_S,
        zones: str = "",
    ) -> None:
        self.store = store
        #: the sites' time zones (``-c time_zone``): a zoned page's whole local days are
        #: read from the compactor's rows of them (``_with_zones``)
        self._zone_default, self._zone_sites = time_zones(zones)
        self.cache_dir = Path(cache_dir).resolve()
        self.today = today
        self.events_prefix = events_prefix
        self.recent_days = recent_days
        self.max_event_bytes = max_event_bytes
        self.refresh_s = refresh_s
        self.monotonic = monotonic
        self.clock = clock
        self.tail_s = tail_s
        #: live statements answered from the newest objects of days too big to load:
        #: statement → (its kind, those objects' cached files)
        self._tails: dict[str, tuple[str, list[Path]]] = {}
        #: statements answered so (reported by the benchmark)
        self.tail_answered = 0
        self._views = list(load_views() if views is None else views)
        self._rolled = rollup_views(self._views)
        self._definition = definition(self._views)
        self._references = {v.name: view_references(v.sql) for v in self._views}
        self._lock = threading.RLock()
        self._checked = float("-inf")
        self._partitions: dict[str, list[StoredObject]] = {}
        #: days whose rows the rollups hold as the days are now (under this definition)
        self._rolled_days: set[str] = set()
        #: days the rollups hold rows of, in any state
        self._indexed: set[str] = set()
        #: days too big to load whose rolled-up views were read from an older state
        #: (reported by the benchmark)
        self.older_read: set[str] = set()
        #: view → local paths of its month objects
        self._rollup_files: dict[str, list[Path]] = {}
        #: day → signature of the objects its loaded rows came from
        self._loaded: dict[str, str] = {}
        #: rolled-up view → loaded days whose rows of it were computed here (a view is
        #: computed for a day when a query asks for it, not before: a filtered page reads
        #: visits and events only)
        self._computed: dict[str, set[str]] = {name: set() for name in self._rolled}
        #: rolled-up view → the rolled-up views its SQL reads, itself included
        self._closure = {name: self._dependencies(name) for name in self._rolled}
        self._views_key: tuple[Any, ...] = ()
        #: what this instance fetched from the store (reported by the benchmark)
        self.gets = 0
        self.lists = 0
        self.bytes_fetched = 0
        #: loaded days whose visits were read from their stored object, not computed
        self.visits_read = 0
        #: damaged objects left out (rollups, visits, events), and the rollup objects'
        #: names (digest-size) not to fetch again
        self.set_aside = 0
        self._set_aside: set[str] = set()
        #: loaded days whose events were one day-compaction's output, read as they are
        self.merged_read = 0
        #: day → the events signature its stored visits were computed from, and the object
        self._visit_objects: dict[str, tuple[str, str, dict[str, Any]]] = {}
        #: loaded days whose deduplicated events are their cached files as they are: read
        #: in place by the ``events_deduped`` union view, never copied into a table
        #: (copying a month of events was most of a cold filtered load, and a query reads
        #: a few of their columns)
        self._in_place: set[str] = set()
        #: cached files no view names any more, deleted at the next refresh: a query
        #: bound to the views before a reload may still be reading them
        self._garbage: list[Path] = []
        #: loaded day → its cached event files
        self._files: dict[str, list[Path]] = {}
        #: days the compactor rolled up by whole hours (today, too big to load): → the hour
        self._until: dict[str, datetime] = {}
        #: day → the events signature its cut visits were computed from, and the object
        self._cut_objects: dict[str, tuple[str, str, dict[str, Any]]] = {}
        #: days too big to load whose stored visits are their ``sessions`` rows, read in
        #: place: day → (visits file, cut visits file or None)
        self._held: dict[str, tuple[Path, Path | None]] = {}
        #: statements answered with a cut read from stored and cut visits → what runs
        self._rewritten: dict[str, str] = {}
        #: cuts so read (reported by the benchmark)
        self.cuts_read = 0
        #: zone → local days whose rows the zoned rollups hold as their UTC days are now
        self._zoned_days: dict[str, set[str]] = {}
        #: (zone, rolled-up view) → local paths of its month objects
        self._zoned_files: dict[tuple[str, str], list[Path]] = {}
        #: zone → local days rolled up as of an hour (a site too big to load; the page is
        #: shown as of that hour, ``as_of``)
        self._zoned_until: dict[str, set[str]] = {}
        #: (zone, local day) → its stored visits' object and its cut visits' (key, meta;
        #: None: none), for the local days touching a day too big to load
        self._zoned_visit_objects: dict[tuple[str, str], tuple[Any, Any]] = {}
        #: ... those fetched for a statement: → their cache files
        self._zoned_held: dict[tuple[str, str], tuple[Path, Path | None]] = {}
        #: statements whose whole local days were read from zoned rollups (benchmark)
        self.zoned_read = 0
        #: zoned statements whose last local day was cut from stored and cut visits
        self.zoned_cuts_read = 0
        #: filtered zoned statements whose visits of whole local days came from tables
        self.zoned_visits_read = 0
        #: statement → itself with its whole local days read so (``_with_zones``)
        self._zoned_rewrites: dict[str, Rewrite] = {}
        #: tables of recent local days computed here → the signature of their events;
        #: those no statement read since the zones' days changed twice are dropped
        self._recent_tables: dict[str, tuple[str, ...]] = {}
        self._recent_used: set[str] = set()
        self._rewritten_over: set[str] = set()
        self._con = duckdb.connect(":memory:", config=_NO_EXTENSIONS)
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")
        if memory_limit:
            self._con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
        # defence in depth, as the local engine: SQL reaches the cache folder and nothing
        # else of the machine (no other file, no ATTACH, no COPY TO elsewhere, no INSTALL)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        folder = str(self.cache_dir.resolve())
        self._con.execute(f"SET temp_directory = {sql_string(folder + '/spill')}")
        self._con.execute(f"SET allowed_directories = [{sql_string(folder + '/')}]")
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")
        #: the database's own main schema, named in full: in a cursor with temporary
        #: tables, a bare ``main.x`` would find ``temp.main.x`` first
        self._main = f'"{self._con.execute("SELECT current_database()").fetchone()[0]}".main'  # type: ignore[index]
        self._con.execute("CREATE SCHEMA live")
        self._con.execute(f"CREATE VIEW main.events AS {empty_events_select()}")
        for view in self._views:
            statement = create_view_statement(view, dialect="duckdb")
            self._con.execute(
                statement.replace(f'VIEW "{view.name}"', f'VIEW live."{view.name}"', 1)
            )
        self._con.execute(_SEARCH_PATH)
        described = self._con.execute(f'DESCRIBE SELECT * FROM live."{VISITS_VIEW}"').fetchall()
        #: the ``sessions`` columns in order (a cut's visits are selected in it)
        self._visit_columns = [row[0] for row in described]
        for table in self._tables():
            self._con.execute(
                f'CREATE TABLE main."{self._kept(table)}" AS SELECT * FROM live."{table}" '
                "WHERE false"
            )
        self._rebuild()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor in one transaction: a reader sees all of it or none of it."""
        cur = self._cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor whose unqualified names find the loaded tables and union views in
        ``main`` first, then the views' own SQL in ``live`` (a per-connection setting)."""
        cursor = self._con.cursor()
        cursor.execute(_SEARCH_PATH)
        return cursor

    # -- what a query needs ---------------------------------------------------------------

    def _dependencies(self, name: str) -> set[str]:
        found = {name}
        for ref in self._references.get(name, ()):
            if ref in self._rolled and ref not in found:
                found |= self._dependencies(ref)
        return found

    def _needs(self, sql: str) -> tuple[set[str], set[str], set[str], set[str]] | None:
        """What answering ``sql`` takes: the days whose events it reads, the days whose
        visits (and nothing else of their rows) it reads, the days whose rolled-up views
        it reads that the rollups do not hold as they are now, and those views (with the
        views they read); None if it cannot be answered here. Each table reference
        counts with its own query's ``event_date`` range: a cut of today next to thirty
        rolled-up days loads today only."""
        tree = _parsed(sql)
        if tree is None:
            return None
        today = self.today()
        recent = self._recent()
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        needed: set[str] = set()
        visits: set[str] = set()
        stale: set[str] = set()
        views: set[str] = set()
        for table in tree.find_all(exp.Table):
            name = table.name.lower()
            if name in ctes or name == CUTS_VIEW:  # (held with its day's visits)
                continue
            if ZONED_MARK in name:  # (a zone's rollups: read as they are)
                continue
            if name == "current_visitors":  # the last minutes: the recent days
                needed |= {d for d in recent if d in self._partitions}
                continue
            if name != "events" and name not in self._references:
                return None  # not a table of the lake
            ranges = table_days(table, today)
            if ranges is None or (not ranges and name in ROW_LEVEL):
                return None  # open below: every partition, which is Athena's job
            days = {
                day
                for day in self._partitions
                if not ranges or any(low <= day <= high for low, high in ranges)
            }
            if name == VISITS_VIEW:
                visits |= days
            elif name in ROW_LEVEL:
                needed |= days  # rows per event: every day of its range
            else:  # a rolled-up view: the days its rollups lack or hold an older state of
                stale |= days - self._rolled_days
                views |= self._closure.get(name, set())
        return needed, visits - needed, stale, views

    def answers(self, sql: str) -> bool:
        """Whether this backend answers ``sql``; loads what it needs to."""
        with self._lock:
            self._refresh()
            cut = self._with_cuts(sql)
            run, inline, recent, used, holds = self._with_zones(cut)
            if holds and not self._hold_zoned(holds):
                return False
            needs = self._needs(inline)
            if needs is None:
                return False
            rows, visits, stale, views = needs
            days = rows | visits | stale
            self._tails.pop(sql, None)
            self._rewritten.pop(sql, None)
            if self._bytes(days | set(self._loaded)) > self.max_event_bytes:
                if self._bytes(days) > self.max_event_bytes:
                    if run == sql and self._tail(sql, rows | visits, stale):
                        return True
                    # too much to load: a rolled-up view's day whose rollups hold an older
                    # state (the compactor's last run; today at ~50 M page views a month
                    # and more) is read from them as they are, and a day's visits from its
                    # stored visits, rather than sent to Athena
                    older = {d for d in stale - rows - visits if d in self._indexed}
                    held = {d for d in visits - rows if self._holdable(d)}
                    days -= older | held
                    if self._bytes(days) > self.max_event_bytes or not self._hold(held):
                        return False
                    self.older_read |= older
                self._unload(set(self._loaded) - days)  # make room: keep what this query needs
            self._load(sorted(d for d in days if d not in self._loaded))
            self._compute(views, sorted(days - self._rolled_days))
            self._rebuild()
            self._materialize_recent(recent)
            if run != sql:
                self._rewritten[sql] = run
                self.cuts_read += cut != sql
                self.zoned_read += "rollups" in used
                self.zoned_visits_read += "visits" in used
                self.zoned_cuts_read += "cuts" in used
            return True

    def as_of(self, now: datetime) -> datetime:
        """The moment a page is shown as of: ``now``, or while the site is too big for its
        days to be loaded (the compactor rolls today up by whole hours then), the hour it
        last rolled today up to: today's panels are its rollups of the hours before, the
        earlier days are cut at the same hour (``_with_cuts``). A site on its own clock
        is shown as of the last whole hour on that clock before it (the app applies
        ``hour_start``), to which the compactor rolled its local day up (``_zoned_cuts``)."""
        with self._lock:
            self._refresh()
            until = self._until.get(now.date().isoformat())
            return now if until is None else min(now, until)

    def _holdable(self, day: str) -> bool:
        """Whether a day too big to load has stored visits to read in place: computed from
        the objects it holds now, or (today, rolled up by whole hours) as last written."""
        found = self._visit_objects.get(day)
        if found is None:
            return False
        if day in self._until:
            return True  # its visits of the hours its rollups cover (``as_of``)
        return found[0] == day_signature(self._partitions.get(day, []))

    def _hold(self, days: set[str]) -> bool:
        """Fetch the stored (and cut) visits of ``days`` to be read in place; False if a
        visits object is damaged (set aside: the query goes elsewhere). A damaged cut
        visits object is set aside alone: the day's cuts are not read (``_cut_relation``),
        its visits are."""
        todo = sorted(d for d in days if d not in self._held)
        if not todo:
            return True
        wanted = []
        for day in todo:
            _, key, meta = self._visit_objects[day]
            cut = self._cut_objects.get(day)
            wanted.append(((key, meta), (cut[1], cut[2]) if cut else None))
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            visits = list(pool.map(lambda w: self._fetch_rollup(*w[0]), wanted))
            cuts = list(pool.map(lambda w: self._fetch_rollup(*w[1]) if w[1] else None, wanted))
        held = True
        for day, path, cut_path in zip(todo, visits, cuts, strict=True):
            if path is None:
                held = False
                continue
            self._held[day] = (path, cut_path)
        return held

    def _with_cuts(self, sql: str) -> str:
        """``sql`` with each unfiltered cut of a day too big to load at a whole hour (the
        previous period's last day "until 14:00", ``queries.cut_sql``) read from the day's
        stored and cut visits (and, for ``hourly_stats``, its rollups) instead of its
        events; ``sql`` itself if it has none."""
        if not self._cut_objects:  # (no day has cut visits: nothing to look for)
            return sql
        tree = _parsed(sql)
        if tree is None:
            return sql
        found = [
            (index, cut)
            for index, sub in enumerate(tree.find_all(exp.Subquery))
            if sub.alias_or_name.lower() in CUTTABLE
            and (cut := _cut_of(sub)) is not None
            and self._bytes({cut[1]}) > self.max_event_bytes
        ]
        if not found:
            return sql
        tree = tree.copy()
        subs = list(tree.find_all(exp.Subquery))
        changed = False
        for index, (site, day, until) in found:
            sub = subs[index]
            view = sub.alias_or_name.lower()
            hour = until.hour
            whole = datetime.fromisoformat(day) + timedelta(hours=hour)
            if sub.root() is not tree or until != whole or not 0 <= hour < 24:
                continue  # inside a cut replaced already, or not at a whole hour (at 0:
                # none of the day's events, the first hour of a day shown as of midnight)
            replacement = self._cut_relation(view, site, day, hour)
            if replacement is None:
                continue
            expected = _parsed(f"SELECT * FROM {queries.cut_sql(view, site, whole.date(), until)}")
            if expected is None or _source(expected).this != sub:
                continue  # not the page's own cut of that view
            new = _parsed(f"SELECT * FROM {replacement}")
            assert new is not None
            sub.replace(_source(new).this.copy())
            changed = True
        return tree.sql(dialect="athena") if changed else sql

    def _cut_relation(self, view: str, site: str, day: str, hour: int) -> str | None:
        """What replaces ``view`` over ``day``'s events before ``hour``:00 (``_with_cuts``):
        the visits that ended before it and the cut visits of that hour; None if the day
        lacks them as it is now."""
        cut = self._cut_objects.get(day)
        signature = day_signature(self._partitions.get(day, []))
        if cut is None or cut[0] != signature or day in self._until or not self._holdable(day):
            return None
        if self._fetch_rollup(cut[1], cut[2]) is None:  # damaged: set aside, not read
            return None
        if view == "hourly_stats" and day not in self._rolled_days:
            return None
        return self._cut_rows(view, site, day, hour, None)

    def _cut_rows(self, view: str, site: str, day: str, hour: int, zone: str | None) -> str:
        """``view`` over a day's events before ``hour``:00 on UTC's or ``zone``'s clock,
        from what the compactor stored of the day: its visits that ended before then and
        its cut visits of that hour (``hourly_stats``, a row per hour: the whole day's
        rows of the hours before)."""
        names = (
            ("hourly_stats", VISITS_VIEW, CUTS_VIEW)
            if zone is None
            else tuple(_zoned_name(zone, n) for n in ("hourly_stats", VISITS_VIEW, CUTS_VIEW))
        )
        on = f"{PARTITION} = {sql_string(day)} AND domain_name = {sql_string(site)}"
        if view == "hourly_stats":  # a row per hour: the hours before are the whole day's
            return f'(SELECT * FROM "{names[0]}" WHERE {on} AND event_hour < {hour}) AS {view}'
        moment = datetime.fromisoformat(day) + timedelta(hours=hour)
        visits = (
            f'SELECT * FROM "{names[1]}" WHERE {on} AND session_end < {timestamp_sql(moment)} '
            f"UNION ALL SELECT {', '.join(self._visit_columns)} FROM \"{names[2]}\" "
            f"WHERE {on} AND {CUT_HOUR} = {hour}"
        )
        if view == VISITS_VIEW:
            return f"({visits}) AS {VISITS_VIEW}"
        return queries.view_over(view, {VISITS_VIEW: visits})

    def _with_zones(self, sql: str) -> Rewrite:
        """``sql`` with each unfiltered run of whole local days of a site on its own clock
        (``queries.zoned_days_sql``) read from the compactor's rows of those days, and
        the days they lack or hold an older state of computed from events (the view's
        SQL over that run, kept as a table per state of its events); a filtered page's
        visits of whole local days likewise kept as tables (``_zoned_visits``): (what
        runs, the same with those runs' SQL inline, the runs' tables → their SQL and
        days, which of the two it used); ``sql`` itself twice if it has none."""
        if self._zone_default is None and not any(self._zone_sites.values()):
            return sql, sql, {}, frozenset(), frozenset()
        known = self._zoned_rewrites.get(sql)
        if known is None:
            known = self._zoned_rewrites[sql] = self._rewrite_zones(sql)
            while len(self._zoned_rewrites) > 256:
                self._zoned_rewrites.pop(next(iter(self._zoned_rewrites)))
        return known

    def _rewrite_zones(self, sql: str) -> Rewrite:
        """``_with_zones`` itself (kept per statement until the zones' days change: a
        page's two dozen statements are parsed and compared once, not on every load)."""
        tree = _parsed(sql)
        if tree is None:
            return sql, sql, {}, frozenset(), frozenset()
        # two rewrites: what runs (each run of recent days a table computed once per
        # state of its events, ``_materialize_recent``) and what it reads (those runs'
        # own SQL, so ``_needs`` loads their days)
        tree, inline_tree = tree.copy(), tree.copy()
        recent: dict[str, tuple[str, str, date, date]] = {}
        holds: set[Hold] = set()
        used = frozenset(
            kind
            for kind, done in (
                ("cuts", self._zoned_cuts(tree, inline_tree, holds)),
                ("rollups", self._zoned_rollups(tree, inline_tree, recent)),
                ("visits", self._zoned_visits(tree, inline_tree, recent, holds)),
            )
            if done
        )
        if not used:
            return sql, sql, {}, used, frozenset()
        run, inline = tree.sql(dialect="athena"), inline_tree.sql(dialect="athena")
        return run, inline, recent, used, frozenset(holds)

    def _zoned_subqueries(
        self, tree: exp.Expression, inline_tree: exp.Expression, views: Collection[str]
    ) -> Iterator[tuple[exp.Expression, exp.Expression, str, str, str, datetime, datetime]]:
        """Each subquery of ``tree`` named for one of ``views`` that reads a zoned site's
        events (``_zoned_of``), with the same subquery of ``inline_tree``: (both, its
        view, the site, its zone, the window read). One inside a subquery the caller has
        replaced meanwhile is skipped (the list is made before the first is yielded)."""
        subs = list(tree.find_all(exp.Subquery))
        inline_subs = list(inline_tree.find_all(exp.Subquery))
        found = [
            (index, zoned)
            for index, sub in enumerate(subs)
            if sub.alias_or_name.lower() in views and (zoned := _zoned_of(sub)) is not None
        ]
        for index, (site, low, high) in found:
            sub = subs[index]
            zone = site_zone(site, self._zone_default, self._zone_sites)
            if sub.root() is not tree or zone is None:
                continue
            view = sub.alias_or_name.lower()
            yield sub, inline_subs[index], view, site, zone, low, high

    def _zoned_cuts(
        self, tree: exp.Expression, inline_tree: exp.Expression, holds: set[Hold]
    ) -> bool:
        """``tree``'s (and ``inline_tree``'s) unfiltered cuts of a whole local day at a
        whole local hour, the previous period's last day "until 14:00" on the zone's clock
        (``queries.cut_sql`` with the zone), read from that day's stored and cut visits
        (``_cut_rows``) when its UTC days are too big to load: their (zone, day) are added
        to ``holds``. Whether any was."""
        if not self._zoned_visit_objects:
            return False
        changed = False
        for sub, inline_sub, view, site, zone, low, high in self._zoned_subqueries(
            tree, inline_tree, CUTTABLE
        ):
            day = to_local(low, zone).date()
            until = to_local(high, zone)
            hour = (until - datetime.combine(day, datetime.min.time())) / timedelta(hours=1)
            if day_window(zone, day)[0] != low or hour not in range(24):
                continue  # not a local day's first whole hours (0: none, shown as of midnight)
            key = (zone, day.isoformat())
            loadless = self._bytes(set(day_sources(zone, key[1]))) > self.max_event_bytes
            objects = self._zoned_visit_objects.get(key)
            if objects is None or objects[1] is None or not loadless:
                continue  # (a held whole day's, of its objects as they are now)
            expected = _parsed(f"SELECT * FROM {queries.cut_sql(view, site, day, until, zone)}")
            if expected is None or _source(expected).this != sub:
                continue  # not the page's own cut of that view
            new = _parsed(f"SELECT * FROM {self._cut_rows(view, site, key[1], int(hour), zone)}")
            assert new is not None
            for target in (sub, inline_sub):
                target.replace(_source(new).this.copy())
            holds.add((*key, True))
            changed = True
        return changed

    def _hold_zoned(self, holds: frozenset[Hold]) -> bool:
        """Fetch the stored visits of local days, and their cut visits where a statement
        reads those (``_zoned_cuts``), to be read in place; False if one it reads is
        damaged (set aside: the statement goes elsewhere). A damaged cut visits object
        costs only the cuts of its day: the day's stored visits are still read."""
        todo = sorted(
            (zone, day, cuts)
            for zone, day, cuts in holds
            if (held := self._zoned_held.get((zone, day))) is None or (cuts and held[1] is None)
        )
        if not todo:
            return True

        def fetch(hold: Hold) -> tuple[Path | None, Path | None]:
            visits, cuts = self._zoned_visit_objects[hold[:2]]
            return self._fetch_rollup(*visits), self._fetch_rollup(*cuts) if hold[2] else None

        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            fetched = list(pool.map(fetch, todo))
        whole = True
        for (zone, day, cuts), (visits, cut) in zip(todo, fetched, strict=True):
            whole &= visits is not None and (cut is not None or not cuts)
            if visits is not None:
                self._zoned_held[(zone, day)] = (visits, cut)
        self._rebuild()
        return whole

    def _zoned_rollups(
        self,
        tree: exp.Expression,
        inline_tree: exp.Expression,
        recent: dict[str, tuple[str, str, date, date]],
    ) -> bool:
        """``tree``'s unfiltered runs of whole local days read from the zone's rows (and
        tables of the days they lack, added to ``recent``); ``inline_tree``'s with those
        tables' SQL inline. Whether any was."""
        if not self._zoned_days:
            return False
        changed = False
        for sub, inline_sub, view, site, zone, low, high in self._zoned_subqueries(
            tree, inline_tree, self._rolled
        ):
            if zone not in self._zoned_days:
                continue
            start, end = local_days(zone, low, high)
            if start > end or day_window(zone, start, end) != (low, high):
                continue  # not whole local days
            own = queries.zoned_days_sql(view, site, zone, start, end)
            # (today rolled up as of an hour, a site too big to load: its rows as the
            # compactor last wrote them, the page being shown as of that hour)
            held = self._zoned_days[zone] | self._zoned_until.get(zone, set())
            expected = _parsed(f"SELECT * FROM {own}")
            if expected is None or _source(expected).this != sub:
                continue  # not the page's own whole days of that view
            days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
            lacking = [d for d in days if d.isoformat() not in held]
            if len(lacking) == len(days):
                continue
            on = f"domain_name = {sql_string(site)} AND {PARTITION} BETWEEN " + (
                f"{sql_string(start.isoformat())} AND {sql_string(end.isoformat())}"
            )
            if lacking:
                listed = ", ".join(sql_string(d.isoformat()) for d in lacking)
                on += f" AND {PARTITION} NOT IN ({listed})"
            parts = [f'SELECT * FROM "{_zoned_name(zone, view)}" WHERE {on}']
            inline = list(parts)
            present = [  # (a local day with no events anywhere has no rows to compute)
                d
                for d in lacking
                if any(s in self._partitions for s in day_sources(zone, d.isoformat()))
            ]
            for first, last in _runs(present):
                source = f"SELECT * FROM {queries.zoned_days_sql(view, site, zone, first, last)}"
                name = f"{_zoned_name(zone, view)}__{_digest(site, first, last)}"
                recent[name] = (source, zone, first, last)
                parts.append(f'SELECT * FROM "{name}"')
                inline.append(source)
            for target, chosen in ((sub, parts), (inline_sub, inline)):
                new = _parsed(f"SELECT * FROM ({' UNION ALL '.join(chosen)}) AS {view}")
                assert new is not None
                target.replace(_source(new).this.copy())
            changed = True
        return changed

    def _zoned_visits(
        self,
        tree: exp.Expression,
        inline_tree: exp.Expression,
        recent: dict[str, tuple[str, str, date, date]],
        holds: set[Hold],
    ) -> bool:
        """``tree``'s visits of a filtered zoned page (``queries.zoned_visits_sql``, the
        ``sessions`` SQL the filters then narrow) read, for its whole local days, from
        tables computed once per state of their events (added to ``recent``): the days
        no recent UTC day touches in one, the others in another, so a delivery redoes
        only the latter; a cut last local day (today until now) stays inline. A page's
        dozen statements and its refreshes no longer each sessionize the range (a month
        at 1 M page views: seconds per statement). Days too big to load are read from
        the visits the compactor stored of them (their (zone, day) added to ``holds``), in
        ``inline_tree`` too. Whether any was."""
        changed = False
        recent_days = self._recent()
        for site, low, high in dict.fromkeys(_zoned_reads(tree)):
            zone = site_zone(site, self._zone_default, self._zone_sites)
            if zone is None:
                continue
            start, last = local_days(zone, low, high)
            if day_window(zone, start)[0] != low:
                continue  # not from a local midnight (the realtime view)
            whole = day_window(zone, start, last)[1] == high
            end = last if whole else last - timedelta(days=1)
            if end < start:
                continue
            expected = _parsed(queries.zoned_visits_sql(site, zone, low, high))
            if expected is None:
                continue
            subs = [sub for sub in tree.find_all(exp.Subquery) if sub.this == expected]
            if not subs:
                continue
            days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
            if self._bytes({s for d in days for s in day_sources(zone, d.isoformat())}) > (
                self.max_event_bytes
            ):  # a site too big to load: the visits the compactor stored, if it did
                keys = [(zone, d.isoformat()) for d in days]
                if not whole or any(k not in self._zoned_visit_objects for k in keys):
                    continue
                on = f"domain_name = {sql_string(site)} AND {PARTITION} BETWEEN " + (
                    f"{sql_string(start.isoformat())} AND {sql_string(end.isoformat())}"
                )
                new = _parsed(f'SELECT * FROM "{_zoned_name(zone, VISITS_VIEW)}" WHERE {on}')
                assert new is not None
                inline = [s for s in inline_tree.find_all(exp.Subquery) if s.this == expected]
                for sub in subs + inline:
                    sub.set("this", new.copy())
                holds.update((zone, day, False) for _, day in keys)
                changed = True
                continue
            settled = [
                d
                for d in days
                if not any(s in recent_days for s in day_sources(zone, d.isoformat()))
            ]
            parts = []
            for group in (settled, [d for d in days if d not in settled]):
                for first, final in _runs(group):
                    name = f"{_zoned_name(zone, VISITS_VIEW)}__{_digest(site, first, final)}"
                    window = day_window(zone, first, final)
                    visits = queries.zoned_visits_sql(site, zone, *window)
                    recent[name] = (f"SELECT * FROM ({visits}) AS s", zone, first, final)
                    parts.append(f'SELECT * FROM "{name}"')
            if not whole:
                cut = queries.zoned_visits_sql(site, zone, day_window(zone, last)[0], high)
                parts.append(f"SELECT * FROM ({cut}) AS c")
            new = _parsed(" UNION ALL ".join(parts))
            assert new is not None
            for sub in subs:
                sub.set("this", new.copy())
            changed = True
        return changed

    def _materialize_recent(self, recent: dict[str, tuple[str, str, date, date]]) -> None:
        """Each table of recent local days a statement reads, (re)computed when the
        objects of its UTC days changed: a zoned page's two dozen statements read today's
        and yesterday's local days from one computation each, not their own."""
        for name, (source, zone, first, last) in sorted(recent.items()):
            self._recent_used.add(name)
            days = utc_days(*day_window(zone, first, last))
            state = tuple(day_signature(self._partitions.get(d.isoformat(), [])) for d in days)
            if self._recent_tables.get(name) == state:
                continue
            cursor = self._cursor()
            try:
                cursor.execute(
                    f'CREATE OR REPLACE TABLE {self._main}."{name}" AS {to_duckdb(source)}'
                )
            finally:
                cursor.close()
            self._recent_tables[name] = state

    def _tail(self, sql: str, rows: set[str], stale: set[str]) -> bool:
        """Whether ``sql`` is a live statement answered from the newest objects of its
        days (``TAIL_S``): the live counter (``current_visitors``, the last five minutes
        by its own SQL), a freshness check (the newest ``event_time`` alone, checked to be
        within ``TAIL_S`` when it runs, else Athena's), or a statement that reads only
        events since a moment at most ``WINDOW_S`` ago (the realtime view), from the
        objects written since that moment. Only recent days."""
        tree = _parsed(sql)
        kind = _live_kind(tree)
        since = self.clock() - self.tail_s
        if kind is None:  # the objects written since its first moment hold its events
            earliest = _window(tree)
            if earliest is None:
                return False
            since = earliest.replace(tzinfo=UTC).timestamp()
            if since < self.clock() - WINDOW_S:
                return False
            kind = "window"
        if stale or not rows or not rows <= self._recent():
            return False
        objects = [
            (o, d) for d in sorted(rows) for o in self._partitions.get(d, ()) if o.modified >= since
        ]
        if sum(o.size for o, _ in objects) > self.max_event_bytes:
            return False
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            files = list(pool.map(lambda item: self._fetch_event_file(*item), objects))
        self._tails[sql] = (kind, files)
        return True

    def _recent(self) -> set[str]:
        today = self.today()
        return {(today - timedelta(days=n)).isoformat() for n in range(self.recent_days)}

    def _bytes(self, days: set[str]) -> int:
        """The events of ``days``; a day rolled up by whole hours counts as more than the
        limit: it is read as of its hour (``as_of``), never from all its events."""
        if any(d in self._until for d in days):
            return self.max_event_bytes + 1
        return sum(o.size for d in days for o in self._partitions.get(d, ()))

    def query(self, sql: str) -> QueryResult:
        """Run one Athena-dialect statement (``answers(sql)`` must have said yes)."""
        with self._lock:
            run = self._rewritten.get(sql, sql)
        try:
            translated = to_duckdb(run)
        except sqlglot.errors.SqlglotError as err:
            raise QueryError(f"cannot translate the query: {err}") from err
        cursor = self._cursor()
        with self._lock:
            tail = self._tails.get(sql)
        try:
            if tail is not None:  # only the newest objects of its days: they shadow the lake
                source = events_select(files_literal(tail[1])) if tail[1] else empty_events_select()
                cursor.execute(f"CREATE TEMP VIEW events AS {source}")
                cursor.execute(
                    f'CREATE TEMP VIEW "{BASE_VIEW}" AS SELECT * FROM live."{BASE_VIEW}"'
                )
            relation = cursor.execute(translated)
            columns = [d[0] for d in relation.description or []]
            result = QueryResult(columns, relation.fetchall())
            if tail is not None:
                if tail[0] == "newest" and not self._within_tail(result):
                    raise QueryError("the newest objects do not hold the newest event")
                self.tail_answered += 1
            return result
        except duckdb.Error as err:
            raise QueryError(str(err).splitlines()[0]) from err
        finally:
            cursor.close()

    def _within_tail(self, result: QueryResult) -> bool:
        """A freshness answer from the tail is the day's if it falls within it: an event
        newer than it would be in an object written after it, hence in the tail."""
        value = result.rows[0][0] if result.rows else None
        if not isinstance(value, datetime):
            return False
        return value.replace(tzinfo=UTC).timestamp() >= self.clock() - self.tail_s

    # -- the store --------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Re-read the index and the events listing at most every ``refresh_s``: new
        rollups are fetched, loaded days whose objects changed are loaded again."""
        if self.monotonic() - self._checked < self.refresh_s:
            return
        loaded = {path for files in self._files.values() for path in files}
        tails = {path for _, files in self._tails.values() for path in files}
        held = {path for files in self._held.values() for path in files if path is not None}
        rolled = {path for files in self._rollup_files.values() for path in files}
        rolled |= {path for files in self._zoned_files.values() for path in files}
        rolled |= {p for pair in self._zoned_held.values() for p in pair if p is not None}
        for path in self._garbage:
            # (a day unloaded, then loaded again, reuses its files; so may a tail; a rollup
            # object named again by the index is the same file)
            if path not in loaded | tails | held | rolled:
                path.unlink(missing_ok=True)
        # each statement decides again over the new listing; the old tails' files go at
        # the next refresh unless a tail or a load uses them again (a day too big to
        # load is never loaded, so nothing else would ever delete them)
        self._garbage = sorted(tails - loaded)
        self._tails = {}
        while len(self._rewritten) > 256:  # (each answers() sets its statement's again)
            self._rewritten.pop(next(iter(self._rewritten)))
        index = self.store.get_json(INDEX_KEY) or {}
        self.gets += 1
        listing = self.store.list(self.events_prefix)
        self.lists += 1
        partitions: dict[str, list[StoredObject]] = {}
        for obj in listing:
            day = partition_of(obj.key, self.events_prefix)
            if day is not None:
                partitions[day] = [*partitions.get(day, []), obj]
        self._partitions = partitions
        #: each day's signature as listed now (the UTC and the zoned rollups compare theirs)
        signatures = {day: day_signature(objs) for day, objs in partitions.items()}
        if index.get("definition") == self._definition:
            # a day's rollups count only while they were computed from the objects it
            # holds now: today's, once Firehose has delivered since the compactor's last
            # run, are computed here (as any day whose objects changed since)
            self._until = {
                day: datetime.fromisoformat(meta["until"])
                for day, meta in index.get("days", {}).items()
                if meta.get("until")
            }
            # (a day rolled up by whole hours holds only those: computed here if loaded)
            self._rolled_days = {
                day
                for day, meta in index.get("days", {}).items()
                if day not in self._until
                and (day not in partitions or meta.get("signature") == signatures[day])
            }
            self._indexed = set(index.get("days", {}))
            wanted = [
                (key, meta)
                for key, meta in sorted(index.get("files", {}).items())
                if key.split("/")[1] in self._rolled
            ]
            with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
                paths = list(pool.map(lambda item: self._fetch_rollup(*item), wanted))
            files: dict[str, list[Path]] = {}
            damaged: set[str] = set()  # months (YYYY-MM) with an object set aside
            for (key, _), path in zip(wanted, paths, strict=True):
                if path is None:
                    damaged.add(key.split("/")[2].split("=", 1)[1])
                else:
                    files.setdefault(key.split("/")[1], []).append(path)
            # replaced month objects go at the next refresh (a query may still read them)
            self._garbage += sorted(rolled - {p for paths in files.values() for p in paths})
            self._rollup_files = files
            # such a month's days are computed here, as days the rollups lack
            self._rolled_days = {d for d in self._rolled_days if d[:7] not in damaged}
            self._indexed = {d for d in self._indexed if d[:7] not in damaged}
            days = index.get("days", {})
            stored = {
                (key.rsplit("/", 1)[1], day): (days[day]["signature"], key, meta)
                for key, meta in index.get("files", {}).items()
                if key.split("/")[1] == VISITS_VIEW
                and (day := key.split("/")[2].split("=", 1)[1]) in days
            }
            self._visit_objects = {d: o for (n, d), o in stored.items() if n == "visits.parquet"}
            self._cut_objects = {d: o for (n, d), o in stored.items() if n == "cuts.parquet"}
            self._refresh_zones(index, signatures)
        else:  # no rollups yet, or written under other view SQL: events only
            self._rolled_days, self._rollup_files, self._visit_objects = set(), {}, {}
            self._indexed, self._until, self._cut_objects = set(), {}, {}
            self._zoned_days, self._zoned_files, self._zoned_rewrites = {}, {}, {}
            self._zoned_until, self._zoned_visit_objects = {}, {}
        self._unload({day for day in self._loaded if day not in partitions or day in self._until})
        self._load(
            sorted(d for d, sig in self._loaded.items() if day_signature(partitions[d]) != sig)
        )
        # held visits stay while their objects are the index's (a query between its
        # answers() and its run may read them); changed ones are held again at once, the
        # old files deleted at the next refresh
        changed = {
            d for d in self._held if not self._holdable(d) or self._held[d] != self._named(d)
        }
        self._garbage += sorted(p for d in changed for p in self._held.pop(d) if p is not None)
        self._hold({d for d in changed if self._holdable(d)})
        self._checked = self.monotonic()
        self._rebuild()

    def _refresh_zones(self, index: dict[str, Any], signatures: dict[str, str]) -> None:
        """The zones' rollups (``lake_compactor.zoned_rollups``): the local days they hold
        as those days' UTC days are now (``signatures``: each day's as listed), and their
        month objects, fetched; a month with a damaged object is computed from events."""
        zoned_days: dict[str, set[str]] = {}
        zoned_until: dict[str, set[str]] = {}
        files: dict[tuple[str, str], list[Path]] = {}
        # (a local day touching a UTC day rolled up by whole hours: as of that hour)
        until = {day: moment.isoformat() for day, moment in self._until.items()}
        for zone, entry in sorted(index.get("zones", {}).items()):
            condition = entry.get("sites", "")
            current = {
                day: meta.get("until")
                for day, meta in entry.get("days", {}).items()
                if meta.get("signature")
                == zoned_signature(zone, condition, day, signatures, until)
            }
            held = {day for day, hour in current.items() if not hour}
            as_of = {day for day, hour in current.items() if hour}
            wanted = [
                (key, meta)
                for key, meta in sorted(index.get("files", {}).items())
                if key.startswith(zone_prefix(zone))
                and key.removeprefix(zone_prefix(zone)).split("/")[0] in self._rolled
            ]
            with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
                paths = list(pool.map(lambda item: self._fetch_rollup(*item), wanted))
            for (key, _), path in zip(wanted, paths, strict=True):
                view, month = key.removeprefix(zone_prefix(zone)).split("/")[:2]
                if path is None:
                    held = {d for d in held if d[:7] != month.split("=", 1)[1]}
                    as_of = {d for d in as_of if d[:7] != month.split("=", 1)[1]}
                else:
                    files.setdefault((zone, view), []).append(path)
            zoned_days[zone], zoned_until[zone] = held, as_of
        old = {path for paths in self._zoned_files.values() for path in paths}
        self._garbage += sorted(old - {p for paths in files.values() for p in paths})
        # the stored and cut visits of held local days that have them (fetched when a
        # statement reads them); those fetched and since replaced go
        stored = index.get("files", {})
        visit_objects = {
            (zone, day): (
                (visits_key(day, zone), stored[visits_key(day, zone)]),
                (cuts_key(day, zone), stored[cuts_key(day, zone)])
                if cuts_key(day, zone) in stored and day in zoned_days[zone]
                else None,
            )
            for zone in zoned_days
            for day in zoned_days[zone] | zoned_until[zone]
            if visits_key(day, zone) in stored
        }
        for key, (visits, cuts) in list(self._zoned_held.items()):
            objects = visit_objects.get(key)
            named = (
                None
                if objects is None
                else (self._cached(objects[0][1]), objects[1] and self._cached(objects[1][1]))
            )
            if named is None or visits != named[0] or (cuts is not None and cuts != named[1]):
                self._garbage += [p for p in self._zoned_held.pop(key) if p is not None]
        # (a rewrite names the held days and the recent days that have events)
        if (
            zoned_days != self._zoned_days
            or zoned_until != self._zoned_until
            or set(visit_objects) != set(self._zoned_visit_objects)
            or set(self._partitions) != self._rewritten_over
        ):
            self._rewritten_over = set(self._partitions)
            self._zoned_rewrites = {}
            # (a query may still read a table named before: it goes one change later)
            for name in sorted(set(self._recent_tables) - self._recent_used):
                self._con.execute(f'DROP TABLE IF EXISTS {self._main}."{name}"')
                del self._recent_tables[name]
            self._recent_used = set()
        self._zoned_days, self._zoned_files = zoned_days, files
        self._zoned_until, self._zoned_visit_objects = zoned_until, visit_objects

    def _named(self, day: str) -> tuple[Path, Path | None]:
        """The cache files of a day's visits and cut visits objects as the index names
        them now (``_fetch_rollup``'s names)."""
        cut = self._cut_objects.get(day)
        return self._cached(self._visit_objects[day][2]), self._cached(cut[2]) if cut else None

    def _cached(self, meta: dict[str, Any]) -> Path:
        """Where a rollup object is kept in ``/tmp``: named by its MD5 and size."""
        name = f"{meta.get('md5', 'x')}-{meta.get('size', 0)}.parquet"
        return self.cache_dir / "rollups" / name

    def _keep(self, fetched: Path, target: Path) -> None:
        """Put a fetched object in the cache: a download is moved, a local store's own
        file (``LocalStore.fetch`` hands back the lake's path) is copied, never moved."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fetched = Path(fetched)
        if fetched.parent == self.cache_dir / "incoming":
            fetched.replace(target)
        else:
            shutil.copyfile(fetched, target)

    def _fetch_rollup(self, key: str, meta: dict[str, Any]) -> Path | None:
        """The object in the cache, or None if it is damaged: its bytes differ from the
        MD5 the index names, or it is no readable Parquet. Then it is set aside (counted,
        named in one log line, not fetched again under that digest) and what it holds
        is computed from the events instead, as if the compactor had not written it."""
        target = self._cached(meta)
        name = target.name
        if name in self._set_aside:
            return None
        if not target.is_file():
            self._keep(self.store.fetch(key, self.cache_dir / "incoming"), target)
            self.gets += 1
            self.bytes_fetched += target.stat().st_size
            problem = _damage(target, meta.get("md5"), self._con)
            if problem:
                target.unlink(missing_ok=True)
                self._set_aside.add(name)
                self.set_aside += 1
                log.warning("dashboard: rollup object %s set aside (%s)", key, problem)
                return None
        return target

    def _fetch_event_file(self, obj: StoredObject, day: str) -> Path:
        """The events object in the cache (a damaged one is found when the day is read,
        ``_load``)."""
        target = self.cache_dir / "events" / f"{PARTITION}={day}" / obj.key.rsplit("/", 1)[1]
        if not target.name.endswith(".parquet"):
            target = target.with_name(target.name + ".parquet")
        if not (target.is_file() and target.stat().st_size == obj.size):
            self._keep(self.store.fetch(obj.key, self.cache_dir / "incoming"), target)
            self.gets += 1
            self.bytes_fetched += obj.size
        return target

    # -- loaded days ------------------------------------------------------------------------

    def _load(self, days: list[str]) -> None:
        """(Re)load days' events in one pass: deduplicated and turned into visits by the
        views' own SQL, or read as the compactor left them (its visits object, a
        day-compaction's output). Their rolled-up views are computed apart
        (``_compute``), when a query asks for them."""
        if not days:
            return
        files: list[Path] = []
        # every day's objects side by side (a month of compacted days is 30 objects of
        # one each: fetched a day at a time, a cold load waited for 30 S3 latencies)
        wanted = [
            (o, day)
            for day in days
            for o in sorted(self._partitions.get(day, []), key=lambda o: o.key)
        ]
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            paths = list(pool.map(lambda item: self._fetch_event_file(*item), wanted))
        by_day: dict[str, list[Path]] = {day: [] for day in days}
        for (_, day), path in zip(wanted, paths, strict=True):
            by_day[day].append(path)
        for day in days:
            fetched = by_day[day]
            keep = {f.name for f in fetched}
            for old in (self.cache_dir / "events" / f"{PARTITION}={day}").glob("*.parquet"):
                if old.name not in keep:  # compacted away: out of the views, deleted later
                    self._garbage.append(old)
            self._files[day] = fetched
            files += fetched
        while True:
            try:
                self._read(days, files)
                break
            except duckdb.Error as err:
                # a damaged events object (a footer or data page DuckDB cannot read) is
                # left out of its day, as local mode sets it aside, and the days read
                # again; any other error is the caller's (the query goes to Athena)
                named = {Path(p) for p in PARQUET_PATH.findall(str(err))} & set(files)
                if not named:
                    raise
                for path in named:
                    day = path.parent.name.split("=", 1)[1]
                    self._files[day].remove(path)
                    files.remove(path)
                    path.unlink(missing_ok=True)
                    self.set_aside += 1
                    log.warning(
                        "dashboard: events object %s left out: %s",
                        f"events/{path.parent.name}/{path.name}", str(err).splitlines()[0][:200],
                    )  # fmt: skip
        for day in days:
            self._loaded[day] = day_signature(self._partitions.get(day, []))

    def _read(self, days: list[str], files: list[Path]) -> None:
        """Days' events into the kept tables (or read in place), in one transaction."""
        main = self._main
        in_days = f"{PARTITION} IN ({', '.join(sql_string(d) for d in days)})"
        # a day's visits stored by the compactor from exactly these objects are read,
        # not computed again (the visit windows were most of a cold filtered load)
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            stored = dict(zip(days, pool.map(self._visits_file, days), strict=True))
        visits = {d: path for d, path in stored.items() if path is not None}
        in_place = self._deduplicated([d for d in days if d in visits], files)
        # (days, visits computed too)
        passes = [
            ([d for d in days if d not in visits], True),
            ([d for d in days if d in visits and d not in in_place], False),
        ]
        self._in_place -= set(days)
        for computed in self._computed.values():
            computed -= set(days)
        with self._transaction() as cur:
            for table in self._tables():
                cur.execute(f'DELETE FROM {main}."{self._kept(table)}" WHERE {in_days}')
            if visits:
                # a table, not read in place: every filtered query reads the visits
                cur.execute(
                    f"INSERT INTO {main}.{self._kept(VISITS_VIEW)} BY NAME "
                    f"SELECT * FROM {read_rollups(files_literal(list(visits.values())))}"
                )
            for group, sessions in passes:
                paths = [f for f in files if f.parent.name.split("=", 1)[1] in group]
                if not paths:
                    continue
                # temporary objects shadow main's for this cursor only: the views' SQL
                # reads these days' own events and deduplicated events
                cur.execute(
                    f"CREATE OR REPLACE TEMP VIEW events AS {events_select(files_literal(paths))}"
                )
                for table in [BASE_VIEW, *((VISITS_VIEW,) if sessions else ())]:
                    cur.execute(
                        f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT * FROM live."{table}"'
                    )
                    cur.execute(
                        f'INSERT INTO {main}."{self._kept(table)}" '
                        f'SELECT * FROM temp.main."{table}"'
                    )
        self.visits_read += len(visits)
        self._in_place.update(in_place)
        self.merged_read += len(in_place)

    def _compute(self, views: set[str], days: list[str]) -> None:
        """The rows of the rolled-up ``views`` (each with the views it reads) for loaded
        ``days`` that lack them, by the views' own SQL over those days' kept events and
        visits; one transaction."""
        todo = [name for name in self._rolled if name in views]
        days = [d for d in days if d in self._loaded]
        lacking = sorted({d for name in todo for d in days if d not in self._computed[name]})
        if not lacking:
            return
        main = self._main
        in_days = f"{PARTITION} IN ({', '.join(sql_string(d) for d in lacking)})"
        with self._transaction() as cur:
            # temporary objects shadow main's for this cursor only: each view's SQL reads
            # these days' deduplicated events, visits and (exit_pages) pages
            for table in (BASE_VIEW, VISITS_VIEW):  # views: nothing is copied
                cur.execute(
                    f'CREATE TEMP VIEW "{table}" AS SELECT * FROM {main}."{table}" WHERE {in_days}'
                )
            for name in todo:
                cur.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM live."{name}"')
                kept = f'{main}."{self._kept(name)}"'
                cur.execute(f"DELETE FROM {kept} WHERE {in_days}")
                cur.execute(f'INSERT INTO {kept} SELECT * FROM temp.main."{name}"')
        for name in todo:
            self._computed[name] |= set(lacking)

    def _deduplicated(self, days: list[str], files: list[Path]) -> set[str]:
        """Those of ``days`` that are one day-compaction's output (merge.py keeps the copy
        of a duplicated event that events_deduped keeps, in its order) with no event
        lacking an id (which the merge keeps all of and the view one of): their files
        are their ``events_deduped`` rows as they are."""
        merged = {
            day
            for day in days
            if (objects := self._partitions.get(day, []))
            and all(tier_of(o) == "day" for o in objects)
            and len({run_of(o) for o in objects}) == 1
        }
        paths = [f for f in files if f.parent.name.split("=", 1)[1] in merged]
        if not paths:
            return set()
        cur = self._cursor()
        try:
            lacking = cur.execute(
                f"SELECT DISTINCT {PARTITION} FROM ({events_select(files_literal(paths))}) "
                "WHERE event_id IS NULL"
            ).fetchall()
        finally:
            cur.close()
        return merged - {row[0] for row in lacking}

    def _visits_file(self, day: str) -> Path | None:
        """The day's stored visits (fetched into the cache), if the compactor computed
        them from the very objects listed now; else None (computed here)."""
        found = self._visit_objects.get(day)
        if found is None or found[0] != day_signature(self._partitions.get(day, [])):
            return None
        if day in self._until:  # only the whole hours the compactor rolled it up to
            return None
        _, key, meta = found
        return self._fetch_rollup(key, meta)

    def _tables(self) -> list[str]:
        """The relations kept per loaded day (each a union view over its parts)."""
        return [BASE_VIEW, VISITS_VIEW, *self._rolled]

    def _kept(self, table: str) -> str:
        """Where the rows of ``table`` computed here for loaded days are kept, beside the
        union view of that name (``_rebuild``)."""
        return f"{table}__loaded"

    def _unload(self, days: set[str]) -> None:
        for day in days:
            on_day = f"{PARTITION} = {sql_string(day)}"
            for table in self._tables():
                self._con.execute(f'DELETE FROM {self._main}."{self._kept(table)}" WHERE {on_day}')
            self._loaded.pop(day, None)
            for computed in self._computed.values():
                computed.discard(day)
            self._in_place.discard(day)
            self._garbage += self._files.pop(day, [])
        if days:
            self._rebuild()

    def _rebuild(self) -> None:
        """``main.events`` over the loaded days' files; each rolled-up view as its
        rollups' rows of the other days plus the rows computed here."""
        computed = tuple((name, tuple(sorted(days))) for name, days in self._computed.items())
        paths = sorted(path for day in self._loaded for path in self._files.get(day, ()))
        stored_files = tuple((v, tuple(p)) for v, p in sorted(self._rollup_files.items()))
        in_place = sorted(p for p in paths if p.parent.name.split("=", 1)[1] in self._in_place)
        holding = tuple(sorted(self._held.items()))
        zoned = tuple((z, tuple(p)) for z, p in sorted(self._zoned_files.items()))
        zones = tuple(sorted(self._zoned_days))
        zoned_held = tuple(sorted(self._zoned_held.items()))
        key = (
            computed, tuple(paths), stored_files, tuple(in_place), holding, zoned, zones,
            zoned_held,
        )  # fmt: skip
        if key == self._views_key:
            return
        events = events_select(files_literal(paths)) if paths else empty_events_select()
        # the row-level relations: the rows kept here, and the days read in place
        deduped = [f'SELECT * FROM {self._main}."{self._kept(BASE_VIEW)}"']
        if in_place:
            deduped.append(events_select(files_literal(in_place)))
        with self._transaction() as cur:
            cur.execute(f"CREATE OR REPLACE VIEW main.events AS {events}")
            union = " UNION ALL BY NAME ".join(deduped)
            cur.execute(f'CREATE OR REPLACE VIEW main."{BASE_VIEW}" AS {union}')
            # the visits kept here, and those of days too big to load, read where they lie
            kept = f'{self._main}."{self._kept(VISITS_VIEW)}"'
            visits = [f"SELECT * FROM {kept}"]
            # (a held day later loaded, once it is small enough, is read as loaded only)
            held = {d: pair for d, pair in self._held.items() if d not in self._loaded}
            files = [stored for stored, _ in held.values()]
            if files:
                visits.append(f"SELECT * FROM {read_rollups(files_literal(files))}")
            union = " UNION ALL BY NAME ".join(visits)
            cur.execute(f'CREATE OR REPLACE VIEW main."{VISITS_VIEW}" AS {union}')
            cuts = [cut for _, cut in held.values() if cut is not None]
            rows = (
                f"SELECT * FROM {read_rollups(files_literal(cuts))}"
                if cuts
                else f"SELECT *, CAST(0 AS BIGINT) AS {CUT_HOUR} FROM {kept} WHERE false"
            )
            cur.execute(f'CREATE OR REPLACE VIEW main."{CUTS_VIEW}" AS {rows}')
            for name in self._rolled:
                parts = [f'SELECT * FROM {self._main}."{self._kept(name)}"']
                stored = self._rollup_files.get(name)
                days = sorted(self._computed[name])
                in_loaded = (
                    f"{PARTITION} IN ({', '.join(sql_string(d) for d in days)})"
                    if days
                    else "false"
                )
                if stored:
                    parts.insert(
                        0,
                        f"SELECT * FROM {read_rollups(files_literal(stored))} "
                        f"WHERE NOT ({in_loaded})",
                    )
                cur.execute(
                    f'CREATE OR REPLACE VIEW main."{name}" AS {" UNION ALL BY NAME ".join(parts)}'
                )
            # every view of every zone, empty where the compactor wrote no object (a view
            # with no rows on that clock, as utm_mediums of a site without campaigns)
            stored_zoned = dict(zoned)
            for zone in sorted(self._zoned_days):
                for name in self._rolled:
                    stored = stored_zoned.get((zone, name))
                    rows = (
                        f"SELECT * FROM {read_rollups(files_literal(list(stored)))}"
                        if stored
                        else f'SELECT * FROM {self._main}."{self._kept(name)}" WHERE false'
                    )
                    cur.execute(
                        f'CREATE OR REPLACE VIEW main."{_zoned_name(zone, name)}" AS {rows}'
                    )
                # the zone's stored and cut visits fetched for a statement (``_hold_zoned``)
                pairs = [pair for (z, _), pair in zoned_held if z == zone]
                for name, chosen in (
                    (VISITS_VIEW, [v for v, _ in pairs]),
                    (CUTS_VIEW, [c for _, c in pairs if c]),
                ):
                    empty = f'SELECT * FROM {self._main}."{name}" WHERE false'
                    rows = (
                        f"SELECT * FROM {read_rollups(files_literal(chosen))}" if chosen else empty
                    )
                    cur.execute(
                        f'CREATE OR REPLACE VIEW main."{_zoned_name(zone, name)}" AS {rows}'
                    )
        self._views_key = key

"""The local query engine: DuckDB standing in for Glue + Athena over the local lake.

It sits at the end of local mode's pipeline (processor → ``LakeSink`` → Parquet →
here). ``events`` is the lake read with hive partitioning, exactly as the Glue table
with partition projection reads S3; every view is created from the one loader
(``athena_views.load_views``) after translating its Athena SQL with sqlglot, and user
queries are Athena SQL too, so a query that works here works on Athena.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import sqlglot
from sqlglot import exp

from athena_views import View, create_view_statement, load_views, to_duckdb, view_references
from athena_views.trino_functions import UnsupportedFunction
from lake_compactor.rollups import (
    duckdb_type,
    empty_events_select,
    events_select,
    is_day_aggregate,
)
from lake_compactor.store import LocalStore
from lake_compactor.validate import PARQUET_PATH, file_problem
from ownstats.lake import events_dir
from ownstats.results import QueryError, QueryResult
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS

__all__ = [
    "Engine",
    "QueryError",
    "QueryResult",
    "Recompute",
    "duckdb_type",
    "prepare",
    "translate",
]

log = logging.getLogger(__name__)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MISSING_FUNCTION = re.compile(
    r"(?:Scalar|Aggregate|Table) Function with name (\w+) does not exist"
)
_MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist")


#: Athena's ``SHOW TABLES`` (tables and views, one ``tab_name`` column), answered from
#: DuckDB's catalog without the engine's internals (``<view>__live``, ``__ownstats_…``)
_SHOW_TABLES = re.compile(r"\s*show\s+tables\s*;?\s*", re.IGNORECASE)
_SHOW_TABLES_SQL = (
    "SELECT DISTINCT table_name AS tab_name FROM information_schema.tables "
    "WHERE table_schema = 'main' AND table_name NOT LIKE '%\\_\\_%' ESCAPE '\\' ORDER BY 1"
)


def parse_query(sql: str) -> exp.Expression:
    """The one reading statement in ``sql``, parsed as Athena SQL; QueryError otherwise."""
    # sqlglot logs a warning for statements it only passes through (SHOW …): the
    # refusal below says what is wrong, so the warning would only clutter the terminal
    quiet = logging.getLogger("sqlglot")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        statements = sqlglot.parse(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as err:
        # sqlglot underlines the culprit with terminal escapes: not in a message or a pipe
        raise QueryError(f"not valid Athena SQL: {_ANSI.sub('', str(err))}") from err
    finally:
        quiet.setLevel(level)
    statements = [s for s in statements if s is not None]
    if not statements:
        raise QueryError('no SQL given: pass one statement, e.g. "SELECT * FROM daily_stats"')
    if len(statements) != 1:
        raise QueryError("run one statement at a time")
    if not isinstance(statements[0], exp.Query | exp.Describe):
        raise QueryError(
            "only queries (SELECT, WITH …, DESCRIBE, SHOW TABLES) can run here: the lake is "
            "written by "
            "the processor, and views come from athena_views/*.sql"
        )
    return statements[0]


@functools.lru_cache(maxsize=512)
def prepare(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """(DuckDB SQL, Athena's column names or None) for one user query; cached, as the
    dashboard repeats the same few queries."""
    if _SHOW_TABLES.fullmatch(sql):
        return _SHOW_TABLES_SQL, ("tab_name",)
    names = athena_column_names(parse_query(sql))
    try:
        translated = to_duckdb(sql)
    except UnsupportedFunction as err:
        raise QueryError(f"not supported by the local engine: {err}") from err
    return translated, None if names is None else tuple(names)


def translate(sql: str) -> str:
    """Athena (Trino) SQL → DuckDB SQL, with the view loader's documented fixes.

    Only reading statements are accepted: the lake is written by the processor alone,
    and a DROP or INSERT here would silently diverge from what Athena shows.
    """
    return prepare(sql)[0]


def athena_column_names(tree: exp.Expression) -> list[str] | None:
    """The names Athena gives a query's columns: an alias or a column's own name, else
    ``_col<position>`` (DuckDB would say ``count_star()``); None when ``*`` makes the
    list unknowable before running."""
    while isinstance(tree, exp.SetOperation):
        tree = tree.left
    if not isinstance(tree, exp.Select):
        return None
    names: list[str] = []
    for position, projection in enumerate(tree.expressions):
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            return None
        if isinstance(projection, exp.Alias):
            names.append(projection.alias)
        elif isinstance(projection, exp.Column):
            names.append(projection.name)
        else:
            names.append(f"_col{position}")
    return names


def explain(error: duckdb.Error, tables: list[str]) -> str:
    """DuckDB's error in terms of the Athena SQL the user wrote, with what to do next."""
    text = _ANSI.sub("", str(error))
    function = _MISSING_FUNCTION.search(text)
    if function:
        return (
            f"function {function.group(1)} is not supported by the local engine (docs/VIEWS.md "
            "lists the Trino functions it runs); on AWS, try it with ownstats query --athena"
        )
    table = _MISSING_TABLE.search(text)
    if table:
        return f"no table or view named {table.group(1)}; there are: {', '.join(tables)}"
    first = text.splitlines()[0] if text else type(error).__name__
    return f"{first}\n(query language: Athena/Trino SQL; tables: {', '.join(tables)})"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _count(cur: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(cur.execute(sql).fetchone()[0])  # type: ignore[index]


_PARTITION = PARTITION_KEYS[0][0]
#: the view every other view reads events through (staged once per recompute)
_BASE_VIEW = "events_deduped"


def _columns_read(view: View) -> str:
    """The ``events`` columns ``view`` names, as a select list: a temporary shadow of
    ``events_deduped`` for it needs no others ("*" if it selects a star from it)."""
    tree = sqlglot.parse_one(view.sql, read="athena")
    for select in tree.find_all(exp.Select):
        from_ = select.args.get("from_") or select.args.get("from")
        reads_base = any(
            isinstance(node, exp.From | exp.Join)
            and isinstance(node.this, exp.Table)
            and node.this.name.lower() == _BASE_VIEW
            for node in [from_, *(select.args.get("joins") or [])]
        )
        if reads_base and any(
            isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
            for p in select.expressions
        ):
            return "*"
    named = {column.name for column in tree.find_all(exp.Column)}
    columns = [name for name, _, _ in EVENT_COLUMNS + PARTITION_KEYS if name in named]
    return ", ".join(f'"{name}"' for name in columns) or "*"


#: views whose rows of one (event_date, domain_name, visitor_id) depend on that visitor's
#: events of the day only (every window and group of ``sessions`` is partitioned by
#: them), so an update recomputes them for the visitors it touched, not the whole day
_VISITOR_VIEWS = frozenset({"sessions"})
_VISITOR_KEY = ("domain_name", "visitor_id")
#: with a background refresh, the aggregates committed together with the events and
#: visits (the summary reads it); the other aggregates follow, one view per transaction
_FIRST_VIEWS = frozenset({"daily_stats"})
#: then, of the views behind equally long, these first (the graph of "today")
_CATCH_UP_FIRST = ("hourly_stats",)
#: up to this many event_ids are fetched from Parquet with a literal IN list (DuckDB
#: pushes it into the scan), more with a subquery
_MAX_IN_LIST = 5000

Signature = tuple[tuple[str, int, int], ...]
#: how a day changed: the files appended to it, a rewrite, or None (recompute in full)
Change = list[str] | Literal["rewrite"] | None


def appended_files(old: Signature | None, new: Signature | None) -> list[str] | None:
    """The files ``new`` adds to ``old`` when the change is append-only, else None.

    Append-only: every (name, size, mtime) of ``old`` is still there and there are new
    files, which is how the lake writer adds a flush. A removed or rewritten file
    (compaction, retention) or a day seen for the first time is not an append.
    """
    if not old or not new:
        return None
    old_files, new_files = set(old), set(new)
    if not old_files < new_files:
        return None
    return sorted(name for name, _, _ in new_files - old_files)


def classify(old: Signature | None, new: Signature | None) -> Change:
    """How a day's kept rows can follow its files: from the ``appended_files`` alone,
    by a ``"rewrite"`` diff (files removed or replaced, e.g. by compaction), or None, a
    full recompute (a day seen for the first time, or removed)."""
    if not old or not new:
        return None
    added = appended_files(old, new)
    return "rewrite" if added is None else added


@dataclass(frozen=True)
class Recompute:
    """What one materialisation did: the days recomputed in full, updated from their
    appended files only, or diffed after a rewrite; how long it took (with the commit)."""

    full: tuple[str, ...]
    appended: tuple[str, ...]
    seconds: float
    rewritten: tuple[str, ...] = ()


#: SQL never makes DuckDB download or load an extension (INSTALL httpfs, a URL in FROM)
_NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def _confine(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """Let SQL on ``con`` reach the lake's directory and nothing else of the machine.

    ``ownstats query`` and the dashboard run SQL the owner (or a URL parameter, through
    the dashboard's own builders) supplies: ``read_csv('/etc/passwd')``, ``ATTACH``,
    ``COPY … TO`` or ``INSTALL`` must fail. DuckDB's external access is switched off
    with the lake as its one allowed directory (spilling goes there too), and the
    configuration is locked, so no statement can switch it back.
    """
    spill = data_dir / ".duckdb-tmp"
    con.execute(f"SET temp_directory = {_sql_string(str(spill))}")
    con.execute(f"SET allowed_directories = [{_sql_string(str(data_dir) + os.sep)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


class Engine:
    """DuckDB over ``<data_dir>/events``, with every view of ``athena_views``.

    Why it materialises: the Athena views compute visits with window functions over
    every event in the range, which is fine for Athena's fleet but takes seconds on a
    laptop for a month of a busy site. The per-day aggregate views (``sessions``,
    ``daily_stats``, ``top_pages``, …) are therefore kept as DuckDB tables, filled from
    the very same translated SQL (``<view>__live``) one partition at a time, and
    recomputed only for the days whose files changed. ``events_deduped``, which every
    other view reads, is kept per day the same way. Queries see exactly what the live
    views would return; ``events``, ``page_views`` and ``current_visitors`` are always
    live views (over the kept ``events_deduped``). ``materialize=False`` turns this off.

    Updates are incremental where they can be (``_update``): a day whose files were only
    appended to (the lake writer's flushes) is updated from its new files alone, a day
    whose files were rewritten (compaction) by diffing its events against the kept ones;
    either way only the changed events enter or leave ``events_deduped``, ``sessions`` is
    recomputed for the visitors they belong to, and the other aggregates of the day from
    the kept tables. A day seen for the first time or removed is recomputed in full. The
    rows are those of a full recompute (tests/views/test_views_incremental.py).

    Freshness: by default, before a query the engine re-reads the lake's file listing if
    the last check is older than ``max_staleness_s`` (cheap: one directory listing per
    day) and the query waits for the update. With ``refresh_in_background=True`` a thread
    does that every ``max_staleness_s`` instead and queries never wait: they read the last
    committed state (each statement sees one DuckDB snapshot). The thread commits the
    events, the visits and ``_FIRST_VIEWS`` (the summary) in one transaction, then the
    other aggregates one view per transaction while no newer files wait. Only queries
    before the first materialisation wait for it.
    Thread-safe: each query runs on its own cursor; syncing is serialised by a lock.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        views: list[View] | None = None,
        materialize: bool = True,
        max_staleness_s: float = 0.5,
        refresh_in_background: bool = False,
    ) -> None:
        # absolute: DuckDB's allowed directory, quarantine keys and error paths use it
        self.data_dir = Path(data_dir).resolve()
        self._views = load_views() if views is None else views
        # the deduplicated events are kept per day too: every aggregate and every
        # filtered dashboard panel reads them, and re-reading Parquet + deduping a month
        # per query is what made filtered 30-day panels slow
        self._materialized = (
            [v.name for v in self._views if v.name == _BASE_VIEW or is_day_aggregate(v)]
            if materialize
            else []
        )
        self.max_staleness_s = max_staleness_s
        self._references = {v.name: view_references(v.sql) for v in self._views}
        #: the events_deduped columns each view reads ("*" when it reads them all)
        self._columns_read = {v.name: _columns_read(v) for v in self._views}
        self._lock = threading.RLock()
        #: files checked and found to be events files: (partition, name, size, mtime)
        self._good_files: set[tuple[str, str, int, int]] = set()
        self._check_lock = threading.Lock()
        self._check_con = duckdb.connect(":memory:", config={"threads": 1, **_NO_EXTENSIONS})
        _confine(self._check_con, self.data_dir)
        #: files this engine moved to quarantine (absolute paths)
        self.quarantined: list[str] = []
        self._con = duckdb.connect(":memory:", config=_NO_EXTENSIONS)
        # event_time is UTC without zone; comparing it with current_timestamp (a
        # TIMESTAMPTZ) must not shift it by the laptop's zone
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")
        _confine(self._con, self.data_dir)
        self._has_files: bool | None = None
        #: each day's files at the last listing
        self._signatures: dict[str, Signature] = {}
        #: each day's files as the kept tables reflect them
        self._materialized_signatures: dict[str, Signature] = {}
        self._checked = 0.0
        #: aggregates a staged (background) update left behind: view → days, and since
        #: when the view has been behind (the longest-waiting catches up first)
        self._lagging: dict[str, set[str]] = {}
        self._lagging_since: dict[str, float] = {}
        #: the last materialisation that changed anything (None before the first)
        self.last_recompute: Recompute | None = None
        #: the background refresh's last failure (None once a refresh succeeds again)
        self.refresh_error: Exception | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        #: the cursor of the transaction the background refresh is running, if any
        self._writing: duckdb.DuckDBPyConnection | None = None
        self.refresh(materialize=False)
        if refresh_in_background:
            self._thread = threading.Thread(
                target=self._refresh_loop, name="ownstats-engine-refresh", daemon=True
            )
            self._thread.start()

    @property
    def view_names(self) -> list[str]:
        """The views, in creation (dependency) order."""
        return [view.name for view in self._views]

    @property
    def materialized_views(self) -> list[str]:
        """The views kept as per-day tables (see the class docstring)."""
        return list(self._materialized)

    @property
    def refreshes_in_background(self) -> bool:
        """Whether a thread keeps the tables up to date (queries never wait for it)."""
        return self._thread is not None

    def _stale(self) -> list[str]:
        """Days whose files differ from what the kept tables reflect."""
        return sorted(
            day
            for day in self._signatures.keys() | self._materialized_signatures.keys()
            if self._signatures.get(day) != self._materialized_signatures.get(day)
        )

    def refresh(self, *, materialize: bool = True) -> None:
        """Bring the engine up to the lake's current files (new, rewritten or removed).

        With ``materialize=False`` the changed days are only noted; they are recomputed
        when a query first needs a materialised view, so a query on ``events`` or
        ``page_views`` never pays for the dashboard's aggregates.
        """
        with self._lock:
            self._list()
            if materialize:
                self._materialize()
                self._catch_up()

    def _list(self) -> None:
        """Note the lake's current files (caller holds the lock)."""
        signatures = self._scan()
        has_files = bool(signatures)
        if has_files != self._has_files:
            self._create(has_files)
            self._has_files = has_files
            self._materialized_signatures = {}
            self._lagging, self._lagging_since = {}, {}
        self._signatures = signatures
        self._checked = time.monotonic()

    def _materialize(self, *, staged: bool = False) -> None:
        """Recompute the stale days (caller holds the lock), in one transaction.

        ``staged`` (the background refresh) commits the events, the visits and
        ``_FIRST_VIEWS`` first and leaves the other aggregates of updated days to
        ``_catch_up``.
        """
        stale = self._stale()
        if not stale:
            return
        signatures = dict(self._signatures)
        if self._materialized:
            started = time.perf_counter()
            incremental = _BASE_VIEW in self._materialized
            plan = {
                day: classify(self._materialized_signatures.get(day), signatures.get(day))
                if incremental
                else None
                for day in stale
            }
            full, updated = self._recompute(plan, staged=staged)
            self.last_recompute = Recompute(
                full=tuple(sorted(full)),
                appended=tuple(
                    sorted(d for d, c in plan.items() if isinstance(c, list) and d not in full)
                ),
                rewritten=tuple(
                    sorted(d for d, c in plan.items() if c == "rewrite" and d not in full)
                ),
                seconds=time.perf_counter() - started,
            )
            for name, days in list(self._lagging.items()):
                days.difference_update(full)
                if not days:
                    del self._lagging[name]
            if staged and updated:
                first = self._first_views()
                self._lag([name for name in self._aggregates() if name not in first], updated)
        self._materialized_signatures = signatures

    def _first_views(self) -> set[str]:
        """``_FIRST_VIEWS`` and the materialised views they read, directly or not: what a
        staged update commits with the events and visits."""
        first: set[str] = set()
        pending = [name for name in self._materialized if name in _FIRST_VIEWS]
        while pending:
            name = pending.pop()
            if name not in first:
                first.add(name)
                pending.extend(r for r in self._references.get(name, ()) if r in self._materialized)
        return first

    def _aggregates(self) -> list[str]:
        """The materialised views recomputed per day from the kept tables after an
        update (in dependency order): all but ``events_deduped`` and the visitor views."""
        return [
            name for name in self._materialized if name != _BASE_VIEW and not self._by_visitor(name)
        ]

    def _by_visitor(self, name: str) -> bool:
        return name in _VISITOR_VIEWS and self._references.get(name) == {_BASE_VIEW}

    def _lag(self, names: list[str], days: set[str]) -> None:
        """Note that the aggregates ``names`` are behind for ``days``."""
        now = time.monotonic()
        for name in names:
            self._lagging.setdefault(name, set()).update(days)
            self._lagging_since.setdefault(name, now)

    def _catch_up_order(self, name: str) -> tuple[float, int, int]:
        first = _CATCH_UP_FIRST.index(name) if name in _CATCH_UP_FIRST else len(_CATCH_UP_FIRST)
        return self._lagging_since.get(name, 0.0), first, self._materialized.index(name)

    def _catch_up(self, *, one: bool = False) -> bool:
        """Recompute the aggregates a staged update left behind, one view per
        transaction (caller holds the lock); with ``one``, only one. Whether any are left.

        The view behind the longest goes first, so that with files arriving all the
        time every view still takes its turn; but never before a materialised view it
        reads that is behind too, and once it is recomputed the views reading it are
        behind for those days (``exit_pages`` reads ``top_pages``).
        """
        while True:
            ready = [
                name
                for name in self._lagging
                if not any(ref in self._lagging for ref in self._references.get(name, ()))
            ]
            if not ready:
                return bool(self._lagging)
            name = min(ready, key=self._catch_up_order)
            days = self._lagging.pop(name)
            since = self._lagging_since.pop(name, None)
            cur = self._con.cursor()
            self._writing = cur
            try:
                cur.execute("BEGIN TRANSACTION")
                db = cur.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
                self._recompute_views(cur, db, [name], sorted(days))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                self._lagging.setdefault(name, set()).update(days)
                if since is not None:
                    self._lagging_since[name] = since
                raise
            finally:
                self._writing = None
                cur.close()
            self._lag([v for v in self._aggregates() if name in self._references.get(v, ())], days)
            if one:
                return bool(self._lagging)

    def _lake_changed(self) -> bool:
        """Whether the lake's files differ from the last listing (no lock needed)."""
        return self._scan() != self._signatures

    def _refresh_loop(self) -> None:
        """The background refresh: materialise everything at once, then every
        ``max_staleness_s`` bring the events, visits and ``_FIRST_VIEWS`` up to the lake
        in one transaction, then the other aggregates one view per transaction: for at
        least as long as that took (up to ``max_staleness_s``), then for as long as no
        newer files wait."""
        while not self._stop.is_set():
            hurry = False
            try:
                with self._lock:
                    started = time.perf_counter()
                    previous = self.last_recompute
                    self._list()
                    self._materialize(staged=self._ready.is_set())
                    spent = time.perf_counter() - started
                    done = self.last_recompute if self.last_recompute is not previous else None
                self.refresh_error = None
                self._ready.set()
                # the other aggregates get at least as long as that took (up to
                # max_staleness_s), then go on until newer files wait: with files
                # arriving all the time, each side gets about half the time. Not after
                # a rewrite or a full recompute: the flushes that waited for it go first
                if done is not None and (done.full or done.rewritten):
                    spent = 0.0
                until = time.perf_counter() + min(spent, self.max_staleness_s)
                while not self._stop.is_set():
                    with self._lock:
                        more = self._catch_up(one=True)
                    if not more:
                        break
                    if time.perf_counter() >= until and self._lake_changed():
                        hurry = True
                        break
            except Exception as err:  # a compaction mid-read, a full disk: next round
                if self._stop.is_set():
                    break  # interrupted by close()
                if self._set_aside_named(err):
                    continue  # a damaged file is out of the way: at once
                # a file compacted away between the listing and the read is routine:
                # list again at once (once: an unreadable file would fail every time)
                routine = isinstance(err, duckdb.IOException)
                hurry = routine and self.refresh_error is None
                self.refresh_error = err
                level = logging.INFO if routine else logging.WARNING
                log.log(level, "engine: background refresh failed (retried): %s", err)
            if not hurry:
                self._stop.wait(max(self.max_staleness_s, 0.01))

    def _needs_materialized(self, sql: str) -> bool:
        """Whether ``sql`` reads a materialised view, directly or through other views."""
        if not self._materialized:
            return False
        try:
            pending = list(view_references(sql))
        except sqlglot.errors.SqlglotError:
            return True
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self._materialized:
                return True
            pending.extend(self._references.get(name, ()))
        return False

    def _scan(self) -> dict[str, Signature]:
        """Each partition's files with size and mtime: what changes when data arrives.

        A file seen for the first time is checked (its footer and schema, about a
        millisecond); one that is no events file is moved to ``quarantine/`` instead of
        failing every query (``lake_compactor.validate``).
        """
        prefix = f"{_PARTITION}="
        signatures = {}
        good: set[tuple[str, str, int, int]] = set()
        for directory in events_dir(self.data_dir).glob(prefix + "*"):
            files = []
            for path in directory.glob("*.parquet"):
                try:
                    stat = path.stat()
                except FileNotFoundError:  # compacted away while listing
                    continue
                seen = (directory.name, path.name, stat.st_size, stat.st_mtime_ns)
                if seen not in self._good_files and self._set_aside_if_bad(path):
                    continue
                good.add(seen)
                files.append((path.name, stat.st_size, stat.st_mtime_ns))
            if files:
                signatures[directory.name[len(prefix) :]] = tuple(sorted(files))
        self._good_files = good
        return signatures

    def _set_aside_if_bad(self, path: Path, *, read_all: bool = False) -> bool:
        """Move ``path`` to quarantine if it is no readable events file; whether it was."""
        with self._check_lock:
            if not path.is_file():
                return False
            problem = file_problem(self._check_con, path, read_all=read_all)
            if problem is None:
                return False
            key = path.relative_to(self.data_dir).as_posix()
            try:
                target = LocalStore(self.data_dir).quarantine(key)
            except OSError as err:
                log.error("lake: %s is no events file (%s) and cannot be moved: %s",
                          path, problem, err)
                return True
            log.warning("lake: %s is no events file (%s); moved to %s",
                        path, problem, self.data_dir / target)
            self.quarantined.append(str(self.data_dir / target))
            return True

    def _set_aside_named(self, error: Exception) -> bool:
        """After a read failed: quarantine the lake files the error names that are bad
        (a damaged data page behind an intact footer); whether any was."""
        moved = False
        for name in set(PARQUET_PATH.findall(str(error))):
            path = Path(name)
            if path.is_relative_to(events_dir(self.data_dir)):
                moved |= self._set_aside_if_bad(path, read_all=True)
        return moved

    def _create(self, has_files: bool) -> None:
        # one transaction: a background refresh never shows a reader half the views
        cur = self._con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            cur.execute(self._events_statement(has_files))
            for view in self._views:
                statement = create_view_statement(view, dialect="duckdb")
                try:
                    if view.name in self._materialized:
                        live = statement.replace(
                            f'VIEW "{view.name}"', f'VIEW "{view.name}__live"', 1
                        )
                        cur.execute(live)
                        cur.execute(
                            f'CREATE OR REPLACE TABLE "{view.name}" AS '
                            f'SELECT * FROM "{view.name}__live" WHERE false'
                        )
                    else:
                        cur.execute(statement)
                except duckdb.Error as err:
                    raise QueryError(
                        f"view {view.name} ({view.path}) does not run on DuckDB: {err}"
                    ) from err
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def _recompute(self, plan: dict[str, Change], *, staged: bool) -> tuple[set[str], set[str]]:
        """Bring the materialised rows of each day of ``plan`` up to its files, in view
        dependency order, in one transaction. Returns the days recomputed in full (those
        planned so and any the incremental path handed back) and the days updated."""
        full = {day for day, change in plan.items() if change is None}
        updated: set[str] = set()
        cur = self._con.cursor()
        self._writing = cur
        try:
            cur.execute("BEGIN TRANSACTION")
            # fully qualified: a bare ``main.events_deduped`` would find the temp shadow
            db = cur.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
            first = self._first_views()
            views = [v for v in self._aggregates() if not staged or v in first]
            for day, change in sorted(plan.items()):
                if change is None:
                    continue
                changed = self._update(cur, db, day, change, views)
                if changed is None:
                    full.add(day)
                elif changed:
                    updated.add(day)
            if full:
                self._recompute_days(cur, db, sorted(full))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            self._writing = None
            cur.close()
        return full, updated

    def _recompute_days(self, cur: duckdb.DuckDBPyConnection, db: str, days: list[str]) -> None:
        """Replace the materialised rows of ``days`` (inside the caller's transaction).

        The deduplicated events of those days are staged once in a temporary table that
        shadows ``events_deduped`` for this cursor only (DuckDB resolves temp objects
        first), so the Parquet scan and the dedupe window run once instead of once per
        view; the view SQL itself is untouched.
        """
        in_days = "(" + ", ".join(_sql_string(day) for day in days) + ")"
        base = f"{_BASE_VIEW}__live" if _BASE_VIEW in self._materialized else _BASE_VIEW
        if _BASE_VIEW in self.view_names:
            cur.execute(
                f'CREATE TEMP TABLE {_BASE_VIEW} AS SELECT * FROM "{db}".main."{base}" '
                f"WHERE {_PARTITION} IN {in_days}"
            )
        for name in self._materialized:
            target = f'"{db}".main."{name}"'
            cur.execute(f"DELETE FROM {target} WHERE {_PARTITION} IN {in_days}")
            source = (
                f"temp.main.{_BASE_VIEW}" if name == _BASE_VIEW else f'"{db}".main."{name}__live"'
            )
            cur.execute(
                f"INSERT INTO {target} SELECT * FROM {source} WHERE {_PARTITION} IN {in_days}"
            )
        if _BASE_VIEW in self.view_names:
            cur.execute(f"DROP TABLE temp.main.{_BASE_VIEW}")

    def _recompute_views(
        self, cur: duckdb.DuckDBPyConnection, db: str, names: list[str], days: list[str]
    ) -> None:
        """Replace the rows of ``days`` of the views ``names`` from the kept tables."""
        in_days = "(" + ", ".join(_sql_string(day) for day in days) + ")"
        for name in names:
            target = f'"{db}".main."{name}"'
            cur.execute(f"DELETE FROM {target} WHERE {_PARTITION} IN {in_days}")
            cur.execute(
                f'INSERT INTO {target} SELECT * FROM "{db}".main."{name}__live" '
                f"WHERE {_PARTITION} IN {in_days}"
            )

    def _shadow_events(self, cur: duckdb.DuckDBPyConnection, source: str, where: str = "") -> None:
        """A temporary ``events`` view over ``source`` only (shadows the lake's)."""
        select = self._events_select(source)
        if where:
            select = f"SELECT * FROM ({select}) WHERE {where}"
        cur.execute(f"CREATE TEMP VIEW events AS {select}")

    def _update(
        self,
        cur: duckdb.DuckDBPyConnection,
        db: str,
        day: str,
        change: list[str] | str,
        views: list[str],
    ) -> bool | None:
        """Update the kept rows of ``day`` from what changed in its files, then the
        aggregates ``views`` of that day (inside the caller's transaction): True if rows
        changed, False if not (only copies of kept events), None, with nothing changed,
        if the day needs a full recompute.

        1. The candidates, read narrow (event_id, event_time, visitor_id, domain_name)
           through a temporary ``events`` view that shadows the lake: for an append, the
           new files' winners by the view's rule (``event_time, visitor_id``), each
           competing with the kept copy of its event_id (on a tie the kept copy stays,
           as either is a valid pick); for a rewrite, the day's winners diffed against
           the kept rows. The full rows of new winners are then read, by
           ``events_deduped__live`` itself, for those event_ids only; so a compaction's
           output (copies of kept events) costs one narrow read. A rewrite keeps the
           columns of an (event_id, event_time, visitor_id), as compaction does.
        2. Kept rows that lost or vanished are deleted, winners inserted.
        3. ``sessions`` is recomputed for the (domain_name, visitor_id) pairs of those
           rows only, from a temporary ``events_deduped`` holding their events of the
           day (a visitor's visits depend on their own events only).
        4. ``views`` (the other aggregates) are recomputed for the day from the kept
           tables: their distinct-visitor counts do not add up across updates.

        A NULL event_id, domain_name or visitor_id (never written by the processor) would
        make SQL's ``IN`` differ from the views' ``PARTITION BY``: such a day is
        recomputed in full.
        """
        main = f'"{db}".main'
        on_day = f"{_PARTITION} = {_sql_string(day)}"
        base = f'{main}."{_BASE_VIEW}"'
        live_base = f'{main}."{_BASE_VIEW}__live"'
        directory = events_dir(self.data_dir) / f"{_PARTITION}={day}"
        incoming, lake, merged = "__ownstats_incoming", "__ownstats_lake", "__ownstats_merged"
        visitors, stored, rank = "__ownstats_visitors", "__ownstats_stored", "__ownstats_rank"
        temps = [incoming, lake, merged, visitors]
        nulls = "event_id IS NULL OR domain_name IS NULL OR visitor_id IS NULL"
        failed = False
        try:
            # 1. the candidates
            # each event_id's winner by the view's rule, ORDER BY event_time, visitor_id:
            # with neither NULL, the least (event_time, visitor_id) pair, which a hash
            # aggregate finds faster than the view's window; read narrow
            pair = "{'t': event_time, 'v': visitor_id}"
            winners = (
                f"SELECT event_id, min({pair}).t AS event_time, min({pair}).v AS visitor_id, "
                f"arg_min(domain_name, {pair}) AS domain_name "
                f"FROM events WHERE {on_day} GROUP BY event_id"
            )
            has_nulls = (
                f"SELECT count(*) FROM events WHERE {on_day} AND ({nulls} OR event_time IS NULL)"
            )
            appended = isinstance(change, list)
            if appended:  # the new files only
                source = "[" + ", ".join(_sql_string(str(directory / f)) for f in change) + "]"
            else:  # a rewrite: every file of the day
                source = _sql_string(str(directory / "*.parquet"))
            self._shadow_events(cur, source)
            if _count(cur, has_nulls):
                cur.execute("DROP VIEW temp.main.events")  # the lake's view again
                return None
            cur.execute(f"CREATE TEMP TABLE {lake} AS {winners}")
            cur.execute("DROP VIEW temp.main.events")
            if appended:
                # the new files' winners compete with the kept copies of their event_ids
                # (on a tie the kept copy stays, as either is a valid pick); only what
                # changes is kept: kept copies that lose, new ones that win. A compaction's
                # output (copies of kept events only) thus costs a narrow read, no more
                key = "event_id, event_time, visitor_id, domain_name"
                cur.execute(
                    f"CREATE TEMP TABLE {merged} AS SELECT event_id, domain_name, visitor_id, "
                    f"{stored} FROM (SELECT *, row_number() OVER (PARTITION BY event_id "
                    f"ORDER BY event_time, visitor_id, {stored} DESC) AS {rank} FROM ("
                    f"SELECT {key}, true AS {stored} FROM {base} WHERE {on_day} "
                    f"AND event_id IN (SELECT event_id FROM {lake}) "
                    f"UNION ALL SELECT {key}, false AS {stored} FROM {lake})) "
                    f"WHERE ({stored} AND {rank} > 1) OR (NOT {stored} AND {rank} = 1)"
                )
            else:  # diff the day's winners against the kept rows
                cur.execute(
                    f"CREATE TEMP TABLE {merged} AS WITH diff AS (SELECT "
                    "k.event_id AS k_id, k.domain_name AS k_domain, k.visitor_id AS k_visitor, "
                    "l.event_id AS l_id, l.domain_name AS l_domain, l.visitor_id AS l_visitor "
                    "FROM (SELECT event_id, event_time, visitor_id, domain_name "
                    f"FROM {base} WHERE {on_day}) AS k "
                    f"FULL OUTER JOIN {lake} AS l ON k.event_id = l.event_id "
                    "WHERE k.event_id IS NULL OR l.event_id IS NULL "
                    "OR k.event_time <> l.event_time OR k.visitor_id <> l.visitor_id) "
                    "SELECT k_id AS event_id, k_domain AS domain_name, k_visitor AS visitor_id, "
                    f"true AS {stored} FROM diff WHERE k_id IS NOT NULL UNION ALL "
                    "SELECT l_id, l_domain, l_visitor, false FROM diff WHERE l_id IS NOT NULL"
                )
            # the full rows of the new winners only, by the view itself
            new_ids = [
                row[0]
                for row in cur.execute(
                    f"SELECT event_id FROM {merged} WHERE NOT {stored} LIMIT {_MAX_IN_LIST + 1}"
                ).fetchall()
            ]
            ids = (
                ", ".join(_sql_string(i) for i in new_ids)
                if len(new_ids) <= _MAX_IN_LIST
                else f"SELECT event_id FROM {merged} WHERE NOT {stored}"
            )
            self._shadow_events(cur, source, f"event_id IN ({ids})" if new_ids else "false")
            cur.execute(f"CREATE TEMP TABLE {incoming} AS SELECT * FROM {live_base} WHERE {on_day}")
            cur.execute("DROP VIEW temp.main.events")
            if not _count(cur, f"SELECT count(*) FROM {merged}"):
                return False  # only copies of kept events

            # 2. the kept events: kept copies that lost or vanished go, winners come
            if _count(cur, f"SELECT count(*) FROM {merged} WHERE {stored}"):
                cur.execute(
                    f"DELETE FROM {base} WHERE rowid IN (SELECT rowid FROM {base} "
                    f"WHERE {on_day} AND event_id IN "
                    f"(SELECT event_id FROM {merged} WHERE {stored}))"
                )
            cur.execute(
                f"INSERT INTO {base} SELECT * FROM {incoming} "
                f"WHERE event_id IN (SELECT event_id FROM {merged} WHERE NOT {stored})"
            )

            # 3. the visitor views, for the visitors of those rows
            key = ", ".join(_VISITOR_KEY)
            cur.execute(f"CREATE TEMP TABLE {visitors} AS SELECT DISTINCT {key} FROM {merged}")
            of_visitors = (
                f"EXISTS (SELECT 1 FROM {visitors} AS v WHERE "
                + " AND ".join(f"v.{column} = t.{column}" for column in _VISITOR_KEY)
                + ")"
            )
            for name in self._materialized:
                if not self._by_visitor(name):
                    continue
                target = f'{main}."{name}"'
                cur.execute(
                    f"DELETE FROM {target} WHERE rowid IN "
                    f"(SELECT rowid FROM {target} AS t WHERE {on_day} AND {of_visitors})"
                )
                # their rows are found on the narrow key columns, then fetched by rowid
                cur.execute(
                    f"CREATE TEMP TABLE {_BASE_VIEW} AS SELECT {self._columns_read[name]} "
                    f"FROM {base} WHERE rowid IN (SELECT rowid FROM {base} AS t "
                    f"WHERE {on_day} AND {of_visitors})"
                )
                cur.execute(
                    f'INSERT INTO {target} SELECT * FROM {main}."{name}__live" WHERE {on_day}'
                )
                cur.execute(f"DROP TABLE temp.main.{_BASE_VIEW}")

            # 4. the other aggregates of the day, from the kept tables
            self._recompute_views(cur, db, views, [day])
            return True
        except BaseException:
            failed = True
            raise
        finally:
            # no cleanup after an error: the caller rolls back, and the temporary objects
            # go with its cursor (a statement after an error would fail and hide it)
            if not failed:
                for table in temps:
                    cur.execute(f"DROP TABLE IF EXISTS temp.main.{table}")

    def _events_select(self, source: str) -> str:
        return events_select(source)

    def _events_statement(self, has_files: bool) -> str:
        if not has_files:
            # an empty lake still answers every view (with no rows), typed as the schema
            return f"CREATE OR REPLACE VIEW events AS {empty_events_select()}"
        glob = _sql_string(str(events_dir(self.data_dir) / "*" / "*.parquet"))
        return f"CREATE OR REPLACE VIEW events AS {self._events_select(glob)}"

    def _sync_for(self, sql: str, *, force: bool) -> None:
        """The synchronous freshness check before a query (the default mode)."""
        needs_tables = self._needs_materialized(sql)
        if force or time.monotonic() - self._checked >= self.max_staleness_s:
            self.refresh(materialize=needs_tables)
        elif needs_tables and (self._stale() or self._lagging):
            with self._lock:
                self._materialize()
                self._catch_up()

    def query(self, sql: str) -> QueryResult:
        """Run one Athena-dialect statement on the lake and views; columns named as
        Athena names them."""
        translated, names = prepare(sql)
        attempts = [1, 2]
        for attempt in attempts:
            try:
                if not self._ready.is_set():
                    # the default mode, and a background engine before its first
                    # materialisation succeeded: the query waits for the lake
                    self._sync_for(sql, force=attempt == 2)
                # else: the background thread keeps the tables; read its last commit
                cursor = self._con.cursor()
                try:
                    relation = cursor.execute(translated)
                    if relation is None or not relation.description:
                        return QueryResult(columns=[], rows=[])
                    columns = [d[0] for d in relation.description]
                    if names is not None and len(names) == len(columns):
                        columns = list(names)
                    return QueryResult(columns=columns, rows=relation.fetchall())
                finally:
                    cursor.close()
            except duckdb.Error as err:
                if len(attempts) < 6 and self._set_aside_named(err):
                    attempts.append(attempts[-1])  # the damaged file is gone: again
                    continue
                if not isinstance(err, duckdb.IOException):
                    raise QueryError(explain(err, ["events", *self.view_names])) from err
                # a compaction may delete a file between the listing and the read; the
                # second attempt sees the merged file instead
                if attempt == 2:
                    raise QueryError(
                        f"could not read the lake under {self.data_dir}: {err} — is another "
                        "process rewriting it? Retry the query."
                    ) from err
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the background refresh (interrupting its transaction, which rolls back)
        and release the DuckDB connection."""
        self._stop.set()
        if self._thread is not None:
            writing = self._writing
            if writing is not None:
                with contextlib.suppress(duckdb.Error):  # finished and closed meanwhile
                    writing.interrupt()
            self._thread.join()
        with self._lock:
            self._con.close()
        with self._check_lock:
            self._check_con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

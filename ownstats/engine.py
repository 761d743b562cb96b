"""The local query engine: DuckDB standing in for Glue + Athena over the local lake.

It sits at the end of local mode's pipeline (processor → ``LakeSink`` → Parquet →
here). ``events`` is the lake read with hive partitioning, exactly as the Glue table
with partition projection reads S3; every view is created from the one loader
(``athena_views.load_views``) after translating its Athena SQL with sqlglot, and user
queries are Athena SQL too, so a query that works here works on Athena.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from athena_views import View, create_view_statement, load_views, to_duckdb, view_references
from athena_views.trino_functions import UnsupportedFunction
from ownstats.lake import events_dir
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS

__all__ = ["Engine", "QueryError", "QueryResult", "duckdb_type", "prepare", "translate"]

_DUCKDB_SCALARS = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",  # UTC wall time without zone, like Athena's timestamp
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}


class QueryError(Exception):
    """A query could not run: bad SQL, an unknown table or column, or a lake read error.

    The message is the engine's own, prefixed with what to do next.
    """


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows (tuples of Python values) of one query."""

    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Rows keyed by column name, the shape JSON output and the dashboard want."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def duckdb_type(glue_type: str) -> str:
    """The DuckDB type for a Glue/Hive type of the events schema."""
    glue_type = glue_type.strip().lower()
    if glue_type in _DUCKDB_SCALARS:
        return _DUCKDB_SCALARS[glue_type]
    if glue_type.startswith("map<") and glue_type.endswith(">"):
        key, value = glue_type[4:-1].split(",", 1)
        return f"MAP({duckdb_type(key)}, {duckdb_type(value)})"
    raise ValueError(f"no DuckDB type for Glue type {glue_type!r}; add it to ownstats.engine")


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MISSING_FUNCTION = re.compile(
    r"(?:Scalar|Aggregate|Table) Function with name (\w+) does not exist"
)
_MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist")


def parse_query(sql: str) -> exp.Expression:
    """The one reading statement in ``sql``, parsed as Athena SQL; QueryError otherwise."""
    try:
        statements = sqlglot.parse(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as err:
        # sqlglot underlines the culprit with terminal escapes: not in a message or a pipe
        raise QueryError(f"not valid Athena SQL: {_ANSI.sub('', str(err))}") from err
    statements = [s for s in statements if s is not None]
    if not statements:
        raise QueryError('no SQL given: pass one statement, e.g. "SELECT * FROM daily_stats"')
    if len(statements) != 1:
        raise QueryError("run one statement at a time")
    if not isinstance(statements[0], exp.Query | exp.Describe):
        raise QueryError(
            "only queries (SELECT, WITH …, DESCRIBE) can run here: the lake is written by "
            "the processor, and views come from athena_views/*.sql"
        )
    return statements[0]


@functools.lru_cache(maxsize=512)
def prepare(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """(DuckDB SQL, Athena's column names or None) for one user query; cached, as the
    dashboard repeats the same few queries."""
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


def _is_day_aggregate(view: View) -> bool:
    """Whether a view is a per-day aggregate that the engine may materialise by day.

    Every view groups or partitions by ``event_date`` (docs/VIEWS.md) (that is what lets a
    date filter prune partitions), so such a view's rows for one day depend on that
    day's events only. Row-per-event views (no aggregate) and views without an
    ``event_date`` column (``current_visitors``, which depends on the clock) stay live.
    """
    tree = sqlglot.parse_one(view.sql, read="athena")
    has_day = any(e.alias_or_name == _PARTITION for e in tree.expressions)
    return has_day and tree.find(exp.AggFunc) is not None


_PARTITION = PARTITION_KEYS[0][0]
#: the view every other view reads events through (staged once per recompute)
_BASE_VIEW = "events_deduped"


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

    Freshness: before a query, the engine re-reads the lake's file listing if the last
    check is older than ``max_staleness_s`` (cheap: one directory listing per day).
    Thread-safe: each query runs on its own cursor; syncing is serialised by a lock.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        views: list[View] | None = None,
        materialize: bool = True,
        max_staleness_s: float = 0.5,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._views = load_views() if views is None else views
        # the deduplicated events are kept per day too: every aggregate and every
        # filtered dashboard panel reads them, and re-reading Parquet + deduping a month
        # per query is what made filtered 30-day panels slow
        self._materialized = (
            [v.name for v in self._views if v.name == _BASE_VIEW or _is_day_aggregate(v)]
            if materialize
            else []
        )
        self.max_staleness_s = max_staleness_s
        self._references = {v.name: view_references(v.sql) for v in self._views}
        self._lock = threading.RLock()
        self._con = duckdb.connect(":memory:")
        # event_time is UTC without zone; comparing it with current_timestamp (a
        # TIMESTAMPTZ) must not shift it by the laptop's zone
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")
        self._has_files: bool | None = None
        self._signatures: dict[str, tuple[tuple[str, int, int], ...]] = {}
        self._checked = 0.0
        self._stale: set[str] = set()
        self.refresh(materialize=False)

    @property
    def view_names(self) -> list[str]:
        """The views, in creation (dependency) order."""
        return [view.name for view in self._views]

    @property
    def materialized_views(self) -> list[str]:
        """The views kept as per-day tables (see the class docstring)."""
        return list(self._materialized)

    def refresh(self, *, materialize: bool = True) -> None:
        """Bring the engine up to the lake's current files (new, rewritten or removed).

        With ``materialize=False`` the changed days are only noted; they are recomputed
        when a query first needs a materialised view, so a query on ``events`` or
        ``page_views`` never pays for the dashboard's aggregates.
        """
        with self._lock:
            signatures = self._scan()
            has_files = bool(signatures)
            if has_files != self._has_files:
                self._create(has_files)
                self._has_files = has_files
                self._signatures = {}
            self._stale.update(
                day
                for day in signatures.keys() | self._signatures.keys()
                if signatures.get(day) != self._signatures.get(day)
            )
            self._signatures = signatures
            self._checked = time.monotonic()
            if materialize and self._stale:
                if self._materialized:
                    self._recompute(sorted(self._stale))
                self._stale.clear()

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

    def _scan(self) -> dict[str, tuple[tuple[str, int, int], ...]]:
        """Each partition's files with size and mtime: what changes when data arrives."""
        prefix = f"{_PARTITION}="
        signatures = {}
        for directory in events_dir(self.data_dir).glob(prefix + "*"):
            files = []
            for path in directory.glob("*.parquet"):
                try:
                    stat = path.stat()
                except FileNotFoundError:  # compacted away while listing
                    continue
                files.append((path.name, stat.st_size, stat.st_mtime_ns))
            if files:
                signatures[directory.name[len(prefix) :]] = tuple(sorted(files))
        return signatures

    def _create(self, has_files: bool) -> None:
        self._con.execute(self._events_statement(has_files))
        for view in self._views:
            statement = create_view_statement(view, dialect="duckdb")
            try:
                if view.name in self._materialized:
                    live = statement.replace(f'VIEW "{view.name}"', f'VIEW "{view.name}__live"', 1)
                    self._con.execute(live)
                    self._con.execute(
                        f'CREATE OR REPLACE TABLE "{view.name}" AS '
                        f'SELECT * FROM "{view.name}__live" WHERE false'
                    )
                else:
                    self._con.execute(statement)
            except duckdb.Error as err:
                raise QueryError(
                    f"view {view.name} ({view.path}) does not run on DuckDB: {err}"
                ) from err

    def _recompute(self, days: list[str]) -> None:
        """Replace the materialised rows of ``days``, in view dependency order, atomically.

        The deduplicated events of those days are staged once in a temporary table that
        shadows ``events_deduped`` for this cursor only (DuckDB resolves temp objects
        first), so the Parquet scan and the dedupe window run once instead of once per
        view; the view SQL itself is untouched.
        """
        in_days = "(" + ", ".join(_sql_string(day) for day in days) + ")"
        cur = self._con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            # fully qualified: a bare ``main.events_deduped`` would find the temp shadow
            db = cur.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
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
                    f"temp.main.{_BASE_VIEW}"
                    if name == _BASE_VIEW
                    else f'"{db}".main."{name}__live"'
                )
                cur.execute(
                    f"INSERT INTO {target} SELECT * FROM {source} WHERE {_PARTITION} IN {in_days}"
                )
            if _BASE_VIEW in self.view_names:
                cur.execute(f"DROP TABLE temp.main.{_BASE_VIEW}")
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def _events_statement(self, has_files: bool) -> str:
        if not has_files:
            # an empty lake still answers every view (with no rows), typed as the schema
            columns = ", ".join(
                f'CAST(NULL AS {duckdb_type(glue)}) AS "{name}"'
                for name, glue, _ in EVENT_COLUMNS + PARTITION_KEYS
            )
            return f"CREATE OR REPLACE VIEW events AS SELECT {columns} WHERE false"
        glob = _sql_string(str(events_dir(self.data_dir) / "*" / "*.parquet"))
        casts = ", ".join(
            f'CAST("{name}" AS {duckdb_type(glue)}) AS "{name}"'
            for name, glue, _ in EVENT_COLUMNS + PARTITION_KEYS
        )
        # the explicit casts pin the schema even if an old file lacks a newer column
        # (union_by_name fills it with NULL), as Glue does for Parquet files
        return (
            f"CREATE OR REPLACE VIEW events AS SELECT {casts} FROM read_parquet({glob}, "
            f"hive_partitioning = true, hive_types = {{'{_PARTITION}': 'VARCHAR'}}, "
            "union_by_name = true)"
        )

    def query(self, sql: str) -> QueryResult:
        """Run one Athena-dialect statement on the lake and views; columns named as
        Athena names them."""
        translated, names = prepare(sql)
        for attempt in (1, 2):
            try:
                needs_tables = self._needs_materialized(sql)
                if attempt == 2 or time.monotonic() - self._checked >= self.max_staleness_s:
                    self.refresh(materialize=needs_tables)
                elif needs_tables and self._stale:
                    with self._lock:
                        if self._stale:
                            self._recompute(sorted(self._stale))
                            self._stale.clear()
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
            except duckdb.IOException as err:
                # a compaction may delete a file between the listing and the read; the
                # second attempt sees the merged file instead
                if attempt == 2:
                    raise QueryError(
                        f"could not read the lake under {self.data_dir}: {err} — is another "
                        "process rewriting it? Retry the query."
                    ) from err
            except duckdb.Error as err:
                raise QueryError(explain(err, ["events", *self.view_names])) from err
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Release the DuckDB connection."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Rollups: each per-day aggregate view, computed once per day of events and stored.

Why: the views compute visits with window functions over every event of a range. That
is fine for Athena's fleet and, materialised per day, for the local engine; a hosted
dashboard that had to do it per page load would wait seconds. A day's rows of a view
like ``daily_stats`` or ``top_pages`` depend on that day's events only (every such view
groups by ``event_date``), and a range's figures add those rows up (visitors are daily
uniques: the visitor hash changes daily), so the rows can be computed once and kept.

One definition: a rollup is *the view's own SQL* (``athena_views``, translated to DuckDB)
run over one day's events; nothing here restates a metric. The local engine picks the
views it materialises with the same ``is_day_aggregate`` and reads events through the
same ``events_select``; the compactor (``lake_compactor.roll_up``) writes rollups for
the AWS stack and the hosted dashboard (``ownstats.dashboard.lake_backend``) reads them.

Visits (``sessions``, one row per visit, as big as the traffic and needed only by
filtered panels) are stored per *day*, not per month (``visits_key``): the hosted
dashboard fetches a day's visits only when a filtered panel loads that day, instead of
running the visit windows over its events again (most of a cold filtered load).
``events_deduped`` (one row per event) is not stored twice: it is the events.

A day too big for the hosted dashboard's function to load (``LOAD_LIMIT_BYTES`` of
events, ~50 M page views a month) is never read from its events there, so two more
things are stored for it. Today's rollups of such a day cover its whole hours only
(``until``): the page shows today up to that hour and compares it with earlier days up
to the same hour. And a closed day gets its *cut visits* (``cuts_key``): for each whole
hour h, the visits that were still going at h, as ``sessions.sql`` gives them over the
day's events before h. The day's visits before h are then its stored visits that ended
before h plus those, so "the previous period until 14:00" is read, not computed from
events (``_cut_visits``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from athena_views import View, create_view_statement, load_views
from lake_compactor import ROLLUPS_INDEX_KEY, ROLLUPS_PREFIX
from lake_compactor.merge import duckdb_type as merge_duckdb_type
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS

__all__ = [
    "BASE_VIEW",
    "CUT_HOUR",
    "INDEX_KEY",
    "LOAD_LIMIT_BYTES",
    "PARTITION",
    "ROLLUPS_PREFIX",
    "ZONES_PREFIX",
    "compute",
    "create_views",
    "cuts_key",
    "definition",
    "duckdb_type",
    "events_select",
    "is_day_aggregate",
    "month_key",
    "read_rollups",
    "rollup_views",
    "sql_string",
    "timestamp_sql",
    "visits_key",
    "zone_prefix",
    "zoned_month_key",
]

PARTITION = PARTITION_KEYS[0][0]
#: the view every other view reads events through
BASE_VIEW = "events_deduped"
#: one row per visit: stored per day (``visits_key``), not as a month rollup
VISITS_VIEW = "sessions"
#: day aggregates that are not rolled up by month
NOT_ROLLED_UP = frozenset({VISITS_VIEW})
#: what the compactor rolled up, from which events, into which files (JSON, written last)
INDEX_KEY = ROLLUPS_INDEX_KEY
#: a day of more events than this (compressed Parquet bytes) is not loaded by the hosted
#: dashboard's function: it reads the day's rollups, visits and cut visits instead. A day
#: of 1 M page views a month is ~1 MB; of 100 M, ~90 MB (docs/DASHBOARD.md)
LOAD_LIMIT_BYTES = 64 * 1024 * 1024
#: zoned sites' rollups (``zoned_month_key``)
ZONES_PREFIX = f"{ROLLUPS_PREFIX}zones/"
#: the column of a cut visit that names its hour (the visit as it was at hh:00)
CUT_HOUR = "until_hour"


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_type(glue_type: str) -> str:
    """The DuckDB type a reader gives a Glue type of the events schema (``timestamp``:
    UTC wall time without zone, like Athena's)."""
    return merge_duckdb_type(glue_type, timestamp="TIMESTAMP")


def is_day_aggregate(view: View) -> bool:
    """Whether a view is a per-day aggregate, whose rows of a day depend on that day's
    events only: it selects ``event_date`` and aggregates. Row-per-event views and views
    without ``event_date`` (``current_visitors`` depends on the clock) are not."""
    return _is_day_aggregate(view.sql)


@functools.lru_cache(maxsize=256)
def _is_day_aggregate(sql: str) -> bool:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="athena")
    has_day = any(e.alias_or_name == PARTITION for e in tree.expressions)
    return has_day and tree.find(exp.AggFunc) is not None


def rollup_views(views: Sequence[View] | None = None) -> list[str]:
    """The views the compactor rolls up, in dependency order."""
    views = load_views() if views is None else views
    return [v.name for v in views if is_day_aggregate(v) and v.name not in NOT_ROLLED_UP]


def definition(views: Sequence[View] | None = None) -> str:
    """A digest of every view's SQL and the events schema: rollups written under another
    definition are not read (a deploy that changes a view recomputes them)."""
    views = load_views() if views is None else views
    digest = hashlib.sha256()
    for column in EVENT_COLUMNS + PARTITION_KEYS:
        digest.update(repr(column).encode())
    for view in views:
        digest.update(view.name.encode() + b"\0" + view.sql.encode() + b"\0")
    return digest.hexdigest()[:16]


def events_select(source: str) -> str:
    """The ``events`` relation over ``source`` (a DuckDB list or glob literal of Parquet
    files), every column cast to the schema's type.

    The casts pin the schema even if an old file lacks a newer column (``union_by_name``
    fills it with NULL), as Glue does for Parquet files.
    """
    casts = ", ".join(
        f'CAST("{name}" AS {duckdb_type(glue)}) AS "{name}"'
        for name, glue, _ in EVENT_COLUMNS + PARTITION_KEYS
    )
    return (
        f"SELECT {casts} FROM read_parquet({source}, "
        f"hive_partitioning = true, hive_types = {{'{PARTITION}': 'VARCHAR'}}, "
        "union_by_name = true)"
    )


def empty_events_select() -> str:
    """``events`` with no rows, typed as the schema (a day or a lake without files)."""
    columns = ", ".join(
        f'CAST(NULL AS {duckdb_type(glue)}) AS "{name}"'
        for name, glue, _ in EVENT_COLUMNS + PARTITION_KEYS
    )
    return f"SELECT {columns} WHERE false"


def files_literal(paths: Sequence[Path | str]) -> str:
    return "[" + ", ".join(sql_string(str(p)) for p in paths) + "]"


def create_views(con: Any, views: Sequence[View] | None = None, *, schema: str = "") -> None:
    """Every view, translated to DuckDB, on ``con`` (``events`` must exist)."""
    views = load_views() if views is None else views
    for view in views:
        statement = create_view_statement(view, dialect="duckdb")
        if schema:
            statement = statement.replace(f'VIEW "{view.name}"', f'VIEW {schema}."{view.name}"', 1)
        con.execute(statement)


def _stored_columns(con: Any, view: str) -> str:
    """The select list that stores ``view``'s columns as Athena types them: DuckDB sums
    integers into HUGEINT, which Parquet would hold as DOUBLE; Athena's sum is BIGINT."""
    described = con.execute(f'DESCRIBE SELECT * FROM live."{view}"').fetchall()
    return ", ".join(
        f'CAST("{name}" AS BIGINT) AS "{name}"' if kind == "HUGEINT" else f'"{name}"'
        for name, kind, *_ in described
    )


def read_rollups(source: str) -> str:
    """``read_parquet`` of rollup objects: their ``month=`` folder is no column."""
    return f"read_parquet({source}, hive_partitioning = false, union_by_name = true)"


def _day_folder(day: str, zone: str | None) -> str:
    """The folder of a day's visits objects, a local day's on ``zone``'s clock."""
    return f"{zone_prefix(zone) if zone else ROLLUPS_PREFIX}{VISITS_VIEW}/{PARTITION}={day}/"


def visits_key(day: str, zone: str | None = None) -> str:
    """Where a day's ``sessions`` rows live (one object per day: a month of visits is as
    big as a month of traffic, and a filtered panel needs only its days); with ``zone``,
    a local day's on that clock (stored for the local days that have cut visits and,
    at that size, the one under way)."""
    return f"{_day_folder(day, zone)}visits.parquet"


def cuts_key(day: str, zone: str | None = None) -> str:
    """Where a day's cut visits live (beside its visits: ``CUT_HOUR``, ``_cut_visits``)."""
    return f"{_day_folder(day, zone)}cuts.parquet"


def zone_prefix(zone: str) -> str:
    """The folder of the rollups on ``zone``'s clock: beside the views' folders, not in
    one, so no UTC table reads them."""
    return f"{ZONES_PREFIX}{quote(zone, safe='')}/"


def zoned_month_key(zone: str, view: str, month: str) -> str:
    """Where a view's rows of one month of local days on ``zone``'s clock live (the sites
    on that clock)."""
    return f"{zone_prefix(zone)}{view}/month={month}/rollup.parquet"


def month_key(view: str, month: str) -> str:
    """Where a view's rollup rows of one month (``YYYY-MM``) live: one Parquet object per
    view and month, so a year of a view is 12 reads, not 365."""
    return f"{ROLLUPS_PREFIX}{view}/month={month}/rollup.parquet"


def compute(
    con: Any,
    files: Sequence[Path],
    out_dir: Path,
    views: Sequence[View] | None = None,
    *,
    until: datetime | None = None,
    cut_days: Sequence[str] = (),
    deduped: str | None = None,
    visits: bool = True,
) -> dict[str, Path]:
    """Every rollup view's rows for the days of ``files`` (one day's events partition or
    several), each written to ``out_dir/<view>.parquet``, and the visits
    (``sessions.parquet``); the paths by view. ``until`` (naive UTC): only the events
    before it. ``cut_days``: also those days' cut visits (``cuts.parquet``, key "cuts").
    ``deduped``: what the views read as ``events_deduped`` instead of the view itself
    (a SELECT over ``live.events_deduped``: a zoned site's events on its own clock,
    ``athena_views.zoned.local_events``). ``visits``: False writes no visits object.

    ``con`` is a fresh DuckDB connection. The deduplicated events are staged once in a
    table that the views read as ``events_deduped`` and the visits once in one they
    read as ``sessions``, so the Parquet scan, the dedupe window and the visit windows
    run once, not once per view; each view's SQL itself is untouched.
    """
    views = load_views() if views is None else views
    out_dir.mkdir(parents=True, exist_ok=True)
    source = events_select(files_literal(files)) if files else empty_events_select()
    if until is not None:
        source = f"SELECT * FROM ({source}) WHERE event_time < {timestamp_sql(until)}"
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA IF NOT EXISTS live")
    con.execute(f"CREATE OR REPLACE VIEW live.events AS {source}")
    # the views, reading their inputs by unqualified name; the two most expensive steps
    # are then staged below
    names = {v.name for v in views}
    for view in views:
        sql = create_view_statement(view, dialect="duckdb")
        sql = sql.replace(f'VIEW "{view.name}"', f'VIEW live."{view.name}"', 1)
        con.execute(sql)
    con.execute("SET search_path = 'main,live'")
    # (a view finds an unqualified name in its own schema before main, so the views of
    # live are pointed at the staged tables: live's own view of the deduplicated events
    # is replaced, and a temporary view, which any schema's names find first, stands
    # for the visits; ``_cut_visits`` still reads live.sessions computed over its own
    # temporary events)
    if BASE_VIEW in names:
        staged = deduped or f"SELECT * FROM live.{BASE_VIEW}"
        con.execute(f"CREATE OR REPLACE TABLE main.{BASE_VIEW} AS {staged}")
        con.execute(f"CREATE OR REPLACE VIEW live.{BASE_VIEW} AS SELECT * FROM main.{BASE_VIEW}")
    written = {}
    if VISITS_VIEW in names:
        con.execute("CREATE OR REPLACE TABLE main.sessions AS SELECT * FROM live.sessions")
        # (named in full: from a temporary view, main.x would find temp.main.x first)
        database = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW sessions AS SELECT * FROM "{database}".main.sessions'
        )
    if VISITS_VIEW in names and visits:
        path = out_dir / f"{VISITS_VIEW}.parquet"
        con.execute(
            f"COPY (SELECT {_stored_columns(con, VISITS_VIEW)} FROM main.sessions) "
            f"TO {sql_string(str(path))} (FORMAT parquet, COMPRESSION zstd)"
        )
        written[VISITS_VIEW] = path
    for name in rollup_views(views):
        path = out_dir / f"{name}.parquet"
        con.execute(
            f'COPY (SELECT {_stored_columns(con, name)} FROM live."{name}") '
            f"TO {sql_string(str(path))} (FORMAT parquet, COMPRESSION zstd)"
        )
        written[name] = path
    if cut_days and VISITS_VIEW in names:
        written["cuts"] = _cut_visits(con, cut_days, out_dir / "cuts.parquet")
    return written


def timestamp_sql(moment: datetime) -> str:
    """A naive UTC moment as an Athena (and DuckDB) timestamp literal, to the millisecond."""
    return f"TIMESTAMP '{moment.isoformat(sep=' ', timespec='milliseconds')}'"


def _cut_visits(con: Any, days: Sequence[str], path: Path) -> Path:
    """The cut visits of ``days`` (``main.sessions`` and ``main.events_deduped`` staged by
    ``compute``): for each whole hour h from 1 to 23, each visit that began before h
    and has an event at or after it, recomputed by ``sessions.sql`` over its events
    before h. A visit's events before h are the visitor's events from the visit's start
    to h (visits never overlap); only the number of the visit is the full day's, as
    ``sessions.sql`` over all the day's events before h would number it. A few rows per
    hour per visit going on then (~1,000 at 100 M page views a month)."""
    listed = ", ".join(sql_string(d) for d in days)
    cut = f"CAST(s.{PARTITION} AS TIMESTAMP) + to_hours(h.{CUT_HOUR})"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cut_going AS SELECT s.{PARTITION}, s.domain_name, "
        f"s.visitor_id, s.visit_no, s.session_start, h.{CUT_HOUR}, {cut} AS cut "
        f"FROM main.sessions AS s, (SELECT unnest(range(1, 24)) AS {CUT_HOUR}) AS h "
        f"WHERE s.{PARTITION} IN ({listed}) AND s.session_start < {cut} "
        f"AND s.session_end >= {cut}"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cut_events AS SELECT e.*, g.{CUT_HOUR} "
        f"FROM main.{BASE_VIEW} AS e JOIN cut_going AS g ON e.{PARTITION} = g.{PARTITION} "
        "AND e.domain_name = g.domain_name AND e.visitor_id IS NOT DISTINCT FROM g.visitor_id "
        "AND e.event_time >= g.session_start AND e.event_time < g.cut"
    )
    columns = _stored_columns(con, VISITS_VIEW)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cut_rows AS SELECT {columns}, 0 AS {CUT_HOUR} "
        f"FROM main.{VISITS_VIEW} WHERE false"
    )
    found = con.execute(f"SELECT DISTINCT {CUT_HOUR} FROM cut_events").fetchall()
    hours = sorted(row[0] for row in found)
    try:
        for hour in hours:
            # the view's own SQL over this hour's events: a temporary view shadows the
            # staged table for the unqualified name the views read
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {BASE_VIEW} AS SELECT * EXCLUDE ({CUT_HOUR}) "
                f"FROM cut_events WHERE {CUT_HOUR} = {int(hour)}"
            )
            con.execute(
                f"INSERT INTO cut_rows SELECT {columns}, {int(hour)} FROM ("
                f"SELECT v.* REPLACE (g.visit_no AS visit_no) FROM live.{VISITS_VIEW} AS v "
                f"JOIN cut_going AS g ON g.{CUT_HOUR} = {int(hour)} "
                f"AND v.{PARTITION} = g.{PARTITION} AND v.domain_name = g.domain_name "
                "AND v.visitor_id IS NOT DISTINCT FROM g.visitor_id)"
            )
    finally:
        con.execute(f"DROP VIEW IF EXISTS temp.{BASE_VIEW}")
    con.execute(
        f"COPY (SELECT * FROM cut_rows ORDER BY {PARTITION}, {CUT_HOUR}) "
        f"TO {sql_string(str(path))} (FORMAT parquet, COMPRESSION zstd)"
    )
    return path


#: DuckDB's type of a stored rollup column → Glue's (HUGEINT is stored as BIGINT)
_GLUE_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "HUGEINT": "bigint",
    "INTEGER": "int",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
}


def rollup_schema(views: Sequence[View] | None = None) -> dict[str, list[list[str]]]:
    """Each rollup's columns as Glue types, from DuckDB's own description of the view over
    an empty ``events``: what ``athena_views/rollups.json`` holds for the stack (which
    synthesizes without DuckDB); a test keeps the two equal."""
    import duckdb

    views = load_views() if views is None else views
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE VIEW events AS {empty_events_select()}")
        create_views(con, views)
        schema = {}
        for name in rollup_views(views):
            described = con.execute(f'DESCRIBE SELECT * FROM "{name}"').fetchall()
            schema[name] = [[column, _GLUE_TYPES[kind]] for column, kind, *_ in described]
        return schema
    finally:
        con.close()

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
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from athena_views import View, create_view_statement, load_views
from lake_compactor import ROLLUPS_INDEX_KEY, ROLLUPS_PREFIX
from lake_compactor.merge import duckdb_type as merge_duckdb_type
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS

__all__ = [
    "BASE_VIEW",
    "INDEX_KEY",
    "PARTITION",
    "ROLLUPS_PREFIX",
    "compute",
    "create_views",
    "definition",
    "duckdb_type",
    "events_select",
    "is_day_aggregate",
    "month_key",
    "read_rollups",
    "rollup_views",
    "sql_string",
    "visits_key",
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


def visits_key(day: str) -> str:
    """Where a day's ``sessions`` rows live (one object per day: a month of visits is as
    big as a month of traffic, and a filtered panel needs only its days)."""
    return f"{ROLLUPS_PREFIX}{VISITS_VIEW}/{PARTITION}={day}/visits.parquet"


def month_key(view: str, month: str) -> str:
    """Where a view's rollup rows of one month (``YYYY-MM``) live: one Parquet object per
    view and month, so a year of a view is 12 reads, not 365."""
    return f"{ROLLUPS_PREFIX}{view}/month={month}/rollup.parquet"


def compute(
    con: Any,
    files: Sequence[Path],
    out_dir: Path,
    views: Sequence[View] | None = None,
) -> dict[str, Path]:
    """Every rollup view's rows for the days of ``files`` (one day's events partition or
    several), each written to ``out_dir/<view>.parquet``, and the visits
    (``sessions.parquet``); the paths by view.

    ``con`` is a fresh DuckDB connection. The deduplicated events are staged once in a
    table that shadows ``events_deduped`` and the visits once in one that shadows
    ``sessions``, so the Parquet scan, the dedupe window and the visit windows run once,
    not once per view; each view's SQL itself is untouched.
    """
    views = load_views() if views is None else views
    out_dir.mkdir(parents=True, exist_ok=True)
    source = events_select(files_literal(files)) if files else empty_events_select()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA IF NOT EXISTS live")
    con.execute(f"CREATE OR REPLACE VIEW live.events AS {source}")
    # the views, reading their inputs by unqualified name: the staged tables in main
    # shadow the live views for the two most expensive steps
    names = {v.name for v in views}
    for view in views:
        sql = create_view_statement(view, dialect="duckdb")
        sql = sql.replace(f'VIEW "{view.name}"', f'VIEW live."{view.name}"', 1)
        con.execute(sql)
    con.execute("SET search_path = 'main,live'")
    if BASE_VIEW in names:
        con.execute(f"CREATE OR REPLACE TABLE main.{BASE_VIEW} AS SELECT * FROM live.{BASE_VIEW}")
    written = {}
    if VISITS_VIEW in names:
        con.execute("CREATE OR REPLACE TABLE main.sessions AS SELECT * FROM live.sessions")
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
    return written


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

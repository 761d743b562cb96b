"""The local query engine: DuckDB standing in for Glue + Athena over the local lake.

It sits at the end of local mode's pipeline (processor → ``LakeSink`` → Parquet →
here). ``events`` is the lake read with hive partitioning, exactly as the Glue table
with partition projection reads S3; every view is created from the one loader
(``athena_views.load_views``) after translating its Athena SQL with sqlglot, and user
queries are Athena SQL too, so a query that works here works on Athena.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot

from athena_views import View, create_view_statement, load_views, to_duckdb
from ownstats.lake import events_dir
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS

__all__ = ["Engine", "QueryError", "QueryResult", "duckdb_type", "translate"]

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


def translate(sql: str) -> str:
    """Athena (Trino) SQL → DuckDB SQL, with the view loader's documented fixes."""
    try:
        return to_duckdb(sql)
    except sqlglot.errors.SqlglotError as err:
        raise QueryError(f"not valid Athena SQL: {err}") from err


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Engine:
    """DuckDB over ``<data_dir>/events``, with every view of ``athena_views``.

    Thread-safe: each query runs on its own cursor; ``refresh()`` is serialised with a lock.
    """

    def __init__(
        self, data_dir: str | os.PathLike[str], *, views: list[View] | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self._views = load_views() if views is None else views
        self._lock = threading.RLock()
        self._con = duckdb.connect(":memory:")
        # event_time is UTC without zone; comparing it with current_timestamp (a
        # TIMESTAMPTZ) must not shift it by the laptop's zone
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        self._has_files: bool | None = None
        self.refresh()

    @property
    def view_names(self) -> list[str]:
        """The views, in creation (dependency) order."""
        return [view.name for view in self._views]

    def refresh(self) -> None:
        """Pick up the lake's current state.

        New files in existing partitions are seen by every query anyway (the glob is
        expanded per query); this matters when the lake goes from empty to non-empty,
        which switches ``events`` from the typed empty table to the Parquet scan.
        """
        with self._lock:
            has_files = any(events_dir(self.data_dir).glob("*/*.parquet"))
            if has_files == self._has_files:
                return
            self._con.execute(self._events_statement(has_files))
            for view in self._views:
                try:
                    self._con.execute(create_view_statement(view, dialect="duckdb"))
                except duckdb.Error as err:
                    raise QueryError(
                        f"view {view.name} ({view.path}) does not run on DuckDB: {err}"
                    ) from err
            self._has_files = has_files

    def _events_statement(self, has_files: bool) -> str:
        partition = PARTITION_KEYS[0][0]
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
            f"hive_partitioning = true, hive_types = {{'{partition}': 'VARCHAR'}}, "
            "union_by_name = true)"
        )

    def query(self, sql: str) -> QueryResult:
        """Run one Athena-dialect statement on the lake and views."""
        translated = translate(sql)
        if self._has_files is False:
            self.refresh()
        for attempt in (1, 2):
            cursor = self._con.cursor()
            try:
                relation = cursor.execute(translated)
                columns = [d[0] for d in relation.description] if relation.description else []
                rows = relation.fetchall() if relation.description else []
                return QueryResult(columns=columns, rows=rows)
            except duckdb.IOException as err:
                # a compaction may delete a file between the glob and the read; the
                # second attempt sees the merged file instead
                if attempt == 2:
                    raise QueryError(
                        f"could not read the lake under {self.data_dir}: {err}"
                    ) from err
                self.refresh()
            except duckdb.Error as err:
                raise QueryError(
                    f"{err}\n(query language: Athena/Trino SQL; tables: events, "
                    f"{', '.join(self.view_names)})"
                ) from err
            finally:
                cursor.close()
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Release the DuckDB connection."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

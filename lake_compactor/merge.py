"""The rewrite: local Parquet files of one partition → sorted, deduplicated Parquet.

DuckDB does the work (read, deduplicate, sort with spilling to disk, write zstd
Parquet); it is one 22 MB wheel with no dependencies, where pyarrow + numpy would be
67 MB (208 MB unpacked, near Lambda's 250 MB limit).

The output has exactly the events schema of ``stream_processor.schema`` in table
order, whatever the inputs hold: Firehose's files (INT96 timestamps), the local
lake's (millisecond timestamps), files written before a column was added (the column
is read as NULL) — so every output reads the same on Athena and in DuckDB.

Duplicates (the same ``event_id``, from at-least-once delivery) keep the copy the
``events_deduped`` view keeps: the first by ``event_time``, then ``visitor_id``. Rows
without an ``event_id`` are all kept. The row count of the output is checked against
the inputs' distinct events before anyone may delete an input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lake_compactor.policy import Policy
from stream_processor.schema import EVENT_COLUMNS

__all__ = ["MergeError", "MergeResult", "OutputFile", "duckdb_type", "merge"]

_SCALARS = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}


class MergeError(RuntimeError):
    """The rewrite failed or its output does not hold every input event."""


@dataclass(frozen=True)
class OutputFile:
    path: Path
    rows: int
    size: int


@dataclass(frozen=True)
class MergeResult:
    outputs: tuple[OutputFile, ...]
    #: rows read, and rows kept (distinct event_ids plus rows without one)
    input_rows: int
    rows: int


def duckdb_type(glue_type: str, timestamp: str = "TIMESTAMP_MS") -> str:
    """The DuckDB type of a Glue type of the events schema; the one mapping, also read
    by the local engine (which reads ``timestamp`` as plain ``TIMESTAMP``). Written,
    a timestamp is Parquet TIMESTAMP(MILLIS, isAdjustedToUTC=false): UTC wall time
    without zone, Athena's timestamp and what the local lake writes."""
    glue_type = glue_type.strip().lower()
    if glue_type == "timestamp":
        return timestamp
    if glue_type in _SCALARS:
        return _SCALARS[glue_type]
    if glue_type.startswith("map<") and glue_type.endswith(">"):
        key, value = glue_type[4:-1].split(",", 1)
        return f"MAP({duckdb_type(key, timestamp)}, {duckdb_type(value, timestamp)})"
    raise ValueError(f"no DuckDB type for Glue type {glue_type!r}; add it to lake_compactor")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(temp_dir: Path, *, threads: int | None = None, memory_limit: str | None = None):
    """A DuckDB connection that spills to ``temp_dir`` and loads no extension."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {
        "threads": threads or os.cpu_count() or 1,
        "temp_directory": str(temp_dir),
        "preserve_insertion_order": True,  # COPY keeps the ORDER BY across output files
        "autoinstall_known_extensions": False,  # parquet is built in; no network
        "autoload_known_extensions": False,
        "home_directory": str(temp_dir),  # Lambda's HOME is read-only
    }
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(config=config)


def select_list(present: set[str]) -> str:
    """Every schema column in table order, cast to its type; absent ones as NULL."""
    items = []
    for name, glue_type, _ in EVENT_COLUMNS:
        column = _ident(name) if name in present else "NULL"
        items.append(f"CAST({column} AS {duckdb_type(glue_type)}) AS {_ident(name)}")
    return ", ".join(items)


def merge(
    inputs: list[Path],
    out_dir: Path,
    *,
    policy: Policy,
    temp_dir: Path,
    threads: int | None = None,
    memory_limit: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> MergeResult:
    """Rewrite ``inputs`` into ``out_dir/data_N.parquet`` (N = 0, 1, …, in sort order).

    ``con``: an open connection (from ``connect``) to do it with, left open; without
    one, a connection with ``temp_dir``, ``threads`` and ``memory_limit`` is made.
    """
    if not inputs:
        raise MergeError("nothing to merge")
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise MergeError(f"{out_dir} is not empty")
    files = [str(p) for p in inputs]
    own = con is None
    if con is None:
        con = connect(temp_dir, threads=threads, memory_limit=memory_limit)
    try:
        source = "read_parquet($files, union_by_name = true)"
        present = {
            row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}", {"files": files})
            .fetchall()
        }  # fmt: skip
        if "event_id" not in present:
            raise MergeError("the inputs have no event_id column: not events files")
        input_rows, expected = con.execute(
            "SELECT count(*), count(DISTINCT event_id) + count(*) FILTER (WHERE event_id IS NULL) "
            f"FROM {source}",
            {"files": files},
        ).fetchall()[0]
        order = ", ".join(_ident(k) for k in (*policy.sort_keys, "event_id"))
        # the dedupe is a window over every row (a quarter of a small partition's
        # rewrite): run it only when the counts just read show an event_id twice, since
        # with none repeated it keeps every row and the output is the same without it
        dedupe = (
            "QUALIFY event_id IS NULL OR row_number() OVER "
            "(PARTITION BY event_id ORDER BY event_time, visitor_id) = 1 "
            if input_rows != expected
            else ""
        )
        query = f"SELECT {select_list(present)} FROM {source} {dedupe}ORDER BY {order}"
        options = (
            "FORMAT parquet, COMPRESSION zstd, "
            f"COMPRESSION_LEVEL {int(policy.compression_level)}, "
            f"ROW_GROUP_SIZE {int(policy.row_group_rows)}, "
            f"FILE_SIZE_BYTES {int(policy.target_file_bytes)}"
        )
        # COPY takes no parameters: the literal list is built from our own paths
        literal_files = "[" + ", ".join(_literal(f) for f in files) + "]"
        con.execute(
            f"COPY ({query.replace('$files', literal_files)}) TO {_literal(str(out_dir))} "
            f"({options})"
        )
        paths = sorted(out_dir.glob("*.parquet"), key=_part_number)
        outputs = []
        for path in paths:
            (rows,) = con.execute(
                "SELECT num_rows FROM parquet_file_metadata($f)", {"f": str(path)}
            ).fetchall()[0]
            outputs.append(OutputFile(path, int(rows), path.stat().st_size))
    except duckdb.Error as err:
        raise MergeError(f"DuckDB could not rewrite the partition: {err}") from err
    finally:
        if own:
            con.close()
    written = sum(o.rows for o in outputs)
    if written != expected:
        raise MergeError(
            f"the rewrite holds {written} rows where the inputs hold {expected} distinct "
            "events; nothing is replaced"
        )
    return MergeResult(outputs=tuple(outputs), input_rows=int(input_rows), rows=written)


def _part_number(path: Path) -> int:
    """``data_12.parquet`` → 12 (DuckDB numbers the files it cuts in write order)."""
    stem = path.stem
    digits = stem.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else 0

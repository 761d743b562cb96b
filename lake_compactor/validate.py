"""Is a file in the lake an events file at all? Damaged or foreign files are set aside.

Anything can land in a partition: a zero-byte or half-copied upload, random bytes, a
file written by another tool with ``event_time`` as text or without ``event_id``.
DuckDB and Athena read a partition as one glob, so one such file fails every query
and every compaction of its day, and a file without ``event_id`` would be merged as
rows nobody can deduplicate. Both the compactor (AWS and local) and the local query
engine ask ``file_problem`` before they rely on a file, and move a bad one out of
``events/`` into ``quarantine/`` (same key below it), where nothing reads it and the
owner can look at it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stream_processor.schema import EVENT_COLUMNS

__all__ = [
    "PARQUET_PATH",
    "QUARANTINE_PREFIX",
    "REQUIRED_COLUMNS",
    "file_problem",
    "quarantine_key",
    "schema_problem",
]

#: a Parquet file's path in a DuckDB error message: a read that fails names the file
PARQUET_PATH = re.compile(r"(/[^'\"\n]+?\.parquet)")
#: bad files move here, keeping their key below it: ``quarantine/events/event_date=…/x``
QUARANTINE_PREFIX = "quarantine/"
#: what an event cannot be deduplicated, placed or counted without
REQUIRED_COLUMNS = ("event_id", "event_time", "event_type", "domain_name")

_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
#: DuckDB types a column of each Glue type may have in a file and still be read as it
_ACCEPTED: dict[str, set[str]] = {
    "string": {"VARCHAR"},
    "timestamp": {
        "TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE",
    },
    "int": _INTEGERS,
    "bigint": _INTEGERS | {"UBIGINT"},
    "double": {"DOUBLE", "FLOAT", "DECIMAL"} | _INTEGERS,
    "boolean": {"BOOLEAN"},
    "map<string,string>": {"MAP(VARCHAR, VARCHAR)"},
}  # fmt: skip
_GLUE = {name: glue.replace(" ", "").lower() for name, glue, _ in EVENT_COLUMNS}


def quarantine_key(key: str) -> str:
    return QUARANTINE_PREFIX + key


def schema_problem(columns: dict[str, str]) -> str | None:
    """Why a file with these columns (name → DuckDB type) is no events file, or None.

    Columns the schema does not know are ignored (the readers select by name); columns
    it knows must have a type that reads as the schema's.
    """
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        return f"no {', '.join(missing)} column"
    for name, found in columns.items():
        glue = _GLUE.get(name)
        if glue is None:
            continue
        base = found.split("(")[0] if glue != "map<string,string>" else found
        if base not in _ACCEPTED.get(glue, {base}):
            return f"column {name} is {found}, not {glue}"
    return None


def file_problem(con: Any, path: Path | str, *, read_all: bool = False) -> str | None:
    """Why the Parquet file at ``path`` cannot be read as events, or None.

    ``con`` is a DuckDB connection. The footer and schema are always checked (about a
    millisecond); ``read_all`` also decodes every column, which finds a damaged data
    page but costs a read of the whole file: the compactor does it only after a merge
    of the partition failed, to find the file that failed it.
    """
    import duckdb

    source = "read_parquet($f)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}", {"f": str(path)}).fetchall()
        problem = schema_problem({row[0]: str(row[1]) for row in described})
        if problem is None and read_all:
            con.execute(f"SELECT bit_xor(hash(COLUMNS(*))) FROM {source}", {"f": str(path)})
            con.fetchall()
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        # DuckDB names the path; the caller names it once, so keep only the reason
        return f"not a readable Parquet file ({first.replace(str(path), '<file>')[:200]})"
    return problem

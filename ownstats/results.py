"""What a query backend answers: the types ``Engine`` (DuckDB) and ``AthenaBackend`` share.

A module of its own, without DuckDB or the lake, so the hosted dashboard's Lambda, which
only talks to Athena, imports the dashboard without the local engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["QueryError", "QueryResult"]


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

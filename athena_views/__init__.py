"""The analytics views: one Athena (Trino) ``SELECT`` per ``.sql`` file in this folder.

This is the one loader both consumers use: the CDK app deploys the views to
Glue/Athena from ``load_views()``, and local mode (``ownstats.engine``) creates the
same views in DuckDB after translating them with sqlglot. It sits after the lake in
the pipeline: every view reads the ``events`` table (through ``events_deduped``) or
another view, never a file.

The module imports only the standard library at import time (sqlglot lazily), so the
CDK app can use it without the local-mode dependencies.
"""

from __future__ import annotations

import functools
import graphlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ROLLUPS_JSON",
    "VIEWS_DIR",
    "View",
    "ViewError",
    "create_view_statement",
    "load_views",
    "render_rollup_columns",
    "rollup_columns",
    "to_duckdb",
    "view_references",
]

VIEWS_DIR = Path(__file__).resolve().parent
#: each rolled-up view's stored columns as Glue types (lake_compactor.rollups writes the
#: objects; a test keeps this file equal to what DuckDB says the views return)
ROLLUPS_JSON = VIEWS_DIR / "rollups.json"


class ViewError(ValueError):
    """A view file cannot be used: it does not parse, or the views reference each other
    in a cycle. Raised at load time so a broken view never reaches a deployment."""


@dataclass(frozen=True)
class View:
    """One view: its name (the file name without ``.sql``), Athena SQL and source file."""

    name: str
    sql: str
    path: Path


@functools.lru_cache(maxsize=256)
def view_references(sql: str) -> frozenset[str]:
    """Table names a SELECT reads, without its own CTE names (lower-case).

    Parsed rather than pattern-matched so that comments, string literals and column
    names never count as references. Cached: loading the views and starting an engine
    both ask for every view's (a tenth of the dashboard function's cold start).
    """
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return frozenset(
        table.name.lower()
        for table in tree.find_all(exp.Table)
        if table.name and table.name.lower() not in ctes
    )


def rollup_columns() -> dict[str, list[tuple[str, str]]]:
    """The rolled-up views and their columns (name, Glue type), for the Glue tables the
    stack registers over ``rollups/<view>/``; read without DuckDB (the CDK app has none)."""
    import json

    document = json.loads(ROLLUPS_JSON.read_text(encoding="utf-8"))
    return {view: [(name, kind) for name, kind in columns] for view, columns in document.items()}


def render_rollup_columns(schema: dict[str, Any]) -> str:
    """The text of ``rollups.json``: one view a line, so a diff shows which view changed."""
    import json

    lines = [f"  {json.dumps(view)}: {json.dumps(columns)}" for view, columns in schema.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def load_views(directory: Path | None = None) -> list[View]:
    """Every view in ``directory`` (default: this package), each after the views it reads.

    The order comes from the SQL itself (sqlglot), so adding a view never means editing a
    list; ties are broken by name so the order, and thus a CDK diff, is stable.
    """
    directory = VIEWS_DIR if directory is None else directory
    views: dict[str, View] = {}
    for path in sorted(directory.glob("*.sql")):
        sql = path.read_text(encoding="utf-8").strip().rstrip(";").strip()
        views[path.stem] = View(name=path.stem, sql=sql, path=path)

    graph: dict[str, set[str]] = {}
    for name, view in views.items():
        try:
            refs = view_references(view.sql)
        except Exception as err:  # sqlglot raises several error types
            raise ViewError(f"{view.path.name}: not valid Athena SQL: {err}") from err
        graph[name] = {ref for ref in refs if ref in views and ref != name}

    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as err:
        raise ViewError(f"views reference each other in a cycle: {err.args[1]}") from err
    ordered: list[View] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(views[name] for name in ready)
        sorter.done(*ready)
    return ordered


def _unnest_map_for_duckdb(node: Any) -> Any:
    """Rewrite Trino's ``CROSS JOIN UNNEST(map) AS t (k, v)`` for DuckDB.

    DuckDB's UNNEST takes one list, not a map, and sqlglot passes the call through
    unchanged; a lateral subquery whose two UNNESTs are zipped gives the same rows.
    """
    from sqlglot import exp

    if not (
        isinstance(node, exp.Join)
        and isinstance(node.this, exp.Unnest)
        and len(node.this.expressions) == 1
    ):
        return node
    alias = node.this.args.get("alias")
    columns = alias.columns if alias is not None else []
    if len(columns) != 2:
        return node
    source = node.this.expressions[0]
    key, value = (col.name for col in columns)
    subquery = exp.select(
        exp.alias_(exp.Unnest(expressions=[exp.func("map_keys", source.copy())]), key),
        exp.alias_(exp.Unnest(expressions=[exp.func("map_values", source.copy())]), value),
    ).subquery(alias.name)
    return exp.Join(this=exp.Lateral(this=subquery), kind="CROSS")


def _min_by_keeps_nulls(node: Any) -> Any:
    """Map Trino ``min_by``/``max_by`` to DuckDB ``arg_min_null``/``arg_max_null``.

    sqlglot emits ``arg_min``, which in DuckDB skips rows whose value is NULL; Trino
    returns the value of the minimum row even when it is NULL (a visit's first page view
    without a campaign must give a NULL campaign, not a later one).
    """
    from sqlglot import exp

    for node_type, name in ((exp.ArgMin, "ARG_MIN_NULL"), (exp.ArgMax, "ARG_MAX_NULL")):
        if isinstance(node, node_type):
            return exp.Anonymous(this=name, expressions=[node.this, node.expression])
    return node


@functools.lru_cache(maxsize=512)
def to_duckdb(sql: str) -> str:
    """Athena SQL → DuckDB SQL: sqlglot's translation plus the documented fixes above.

    Cached: the dashboard sends the same few queries every few seconds.
    """
    import sqlglot

    from athena_views.trino_functions import rewrite, trino_semantics

    tree = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    tree = trino_semantics(tree)
    # in place: the tree is this call's own (a copy per transform was a quarter of the
    # time a dashboard query took to translate)
    for step in (_unnest_map_for_duckdb, _min_by_keeps_nulls, rewrite):
        tree = tree.transform(step, copy=False)
    return tree.sql(dialect="duckdb")


def create_view_statement(view: View, dialect: str = "athena") -> str:
    """``CREATE OR REPLACE VIEW`` for one view, in ``athena`` or ``duckdb`` SQL."""
    if dialect == "athena":
        return f'CREATE OR REPLACE VIEW "{view.name}" AS\n{view.sql}'
    if dialect == "duckdb":
        return f'CREATE OR REPLACE VIEW "{view.name}" AS\n{to_duckdb(view.sql)}'
    raise ValueError(f"unknown dialect {dialect!r}; use 'athena' or 'duckdb'")

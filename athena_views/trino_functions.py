"""Trino functions DuckDB lacks, rewritten into DuckDB expressions at translation time.

People query web analytics and CloudFront logs with ``url_extract_*``,
``format_datetime`` and friends; sqlglot passes such calls through unchanged (or, for
``cardinality`` on a map, into a call DuckDB rejects). Each rewrite here follows the
Trino documentation's semantics, including its NULLs, and is checked against the
documented examples in tests/views/test_trino_functions.py; docs/VIEWS.md lists what
is supported. A function neither sqlglot nor this module translates reaches DuckDB
unchanged and fails there, and ``ownstats.engine`` names it in the error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: scheme://[userinfo@](host)[:port] — RFC 3986's generic syntax, as java.net.URI reads it
_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*:"
_AUTHORITY = _SCHEME + r"//(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)"

#: Joda-Time pattern letters (Trino's format_datetime/parse_datetime) → strftime
_JODA = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "M": "%-m",
    "dd": "%d",
    "d": "%-d",
    "HH": "%H",
    "H": "%-H",
    "hh": "%I",
    "h": "%-I",
    "mm": "%M",
    "m": "%-M",
    "ss": "%S",
    "s": "%-S",
    "SSS": "%g",
    "SSSSSS": "%f",
    "EEEE": "%A",
    "EEE": "%a",
    "a": "%p",
    "Z": "%z",
    "ZZ": "%z",
    "z": "%Z",
    "DDD": "%j",
}
_JODA_TOKEN = re.compile(r"'[^']*'|([A-Za-z])\1*")


class UnsupportedFunction(ValueError):
    """A Trino function call this engine cannot run; the message names it."""


def joda_to_strftime(pattern: str) -> str:
    """A Joda-Time pattern (``yyyy-MM-dd HH:mm``) as a strftime format (``%Y-%m-%d %H:%M``)."""
    out: list[str] = []
    position = 0
    for match in _JODA_TOKEN.finditer(pattern):
        out.append(pattern[position : match.start()].replace("%", "%%"))
        token = match.group(0)
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%") if token != "''" else "'")
        elif token in _JODA:
            out.append(_JODA[token])
        else:
            raise UnsupportedFunction(f"Joda-Time pattern letter {token!r} in {pattern!r}")
        position = match.end()
    out.append(pattern[position:].replace("%", "%%"))
    return "".join(out)


def _literal(node: Any, what: str) -> str:
    from sqlglot import exp

    if not isinstance(node, exp.Literal) or not node.is_string:
        raise UnsupportedFunction(f"{what} needs a string literal here")
    return str(node.this)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _template(sql: str, *args: Any) -> Any:
    """``sql`` (DuckDB) with ``{0}``, ``{1}`` … replaced by the rendered arguments."""
    import sqlglot

    rendered = [f"({a.sql(dialect='duckdb')})" for a in args]
    return sqlglot.parse_one(sql.format(*rendered), read="duckdb")


def _url_parameter(args: list[Any]) -> Any:
    name = re.escape(_literal(args[1], "url_extract_parameter's name"))
    found = f"(?:^[^?#]*\\?|&)({name})(?:=([^&#]*))?(?:&|#|$)"
    return _template(
        f"CASE WHEN REGEXP_MATCHES({{0}}, {_sql_string(found)}) "
        f"THEN REGEXP_EXTRACT({{0}}, {_sql_string(found)}, 2) END",
        args[0],
    )


_URL: dict[str, Callable[[list[Any]], Any]] = {
    "url_extract_protocol": lambda a: _template(
        f"NULLIF(REGEXP_EXTRACT({{0}}, {_sql_string('^([A-Za-z][A-Za-z0-9+.-]*):')}, 1), '')", a[0]
    ),
    "url_extract_host": lambda a: _template(
        f"NULLIF(REGEXP_EXTRACT({{0}}, {_sql_string(_AUTHORITY)}, 1), '')", a[0]
    ),
    "url_extract_port": lambda a: _template(
        f"TRY_CAST(NULLIF(REGEXP_EXTRACT({{0}}, {_sql_string(_AUTHORITY + ':([0-9]+)')}, 2), '')"
        " AS BIGINT)",
        a[0],
    ),
    "url_extract_path": lambda a: _template(
        "REGEXP_EXTRACT({0}, "
        + _sql_string(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*|[A-Za-z][A-Za-z0-9+.-]*:)?([^?#]*)")
        + ", 1)",
        a[0],
    ),
    "url_extract_query": lambda a: _template(
        "CASE WHEN REGEXP_MATCHES({0}, '^[^#]*\\?') "
        "THEN REGEXP_EXTRACT({0}, '^[^?#]*\\?([^#]*)', 1) END",
        a[0],
    ),
    "url_extract_fragment": lambda a: _template(
        "CASE WHEN STRPOS({0}, '#') > 0 THEN REGEXP_EXTRACT({0}, '#(.*)$', 1) END", a[0]
    ),
    "url_extract_parameter": _url_parameter,
    "format_datetime": lambda a: _template(
        f"STRFTIME({{0}}, {_sql_string(joda_to_strftime(_literal(a[1], 'format_datetime')))})",
        a[0],
    ),
    "to_iso8601": lambda a: _template("STRFTIME({0}, '%Y-%m-%dT%H:%M:%S.%g')", a[0]),
    "map_agg": lambda a: _template("MAP_FROM_ENTRIES(LIST({{'k': {0}, 'v': {1}}}))", a[0], a[1]),
}

#: every Trino function this module adds (docs/VIEWS.md's table lists them too)
ADDED = frozenset(_URL) | {"cardinality", "parse_datetime"}


def rewrite(node: Any) -> Any:
    """A sqlglot transform: Trino-only calls as DuckDB expressions; others unchanged."""
    from sqlglot import exp

    if isinstance(node, exp.ArraySize):  # cardinality(): DuckDB's works on maps and lists
        return exp.Anonymous(this="CARDINALITY", expressions=[node.this])
    if isinstance(node, exp.ParseDatetime) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "parse_datetime"
    ):
        value, pattern = (
            (node.this, node.args.get("format"))
            if isinstance(node, exp.ParseDatetime)
            else tuple(node.expressions)
        )
        fmt = joda_to_strftime(_literal(pattern, "parse_datetime"))
        return _template(f"STRPTIME({{0}}, {_sql_string(fmt)})", value)
    if isinstance(node, exp.Anonymous):
        build = _URL.get(node.name.lower())
        if build is not None:
            return build(list(node.expressions))
    return node


#: interval units for which Trino keeps a DATE a DATE (``date + interval '1' day``)
_DATE_UNITS = frozenset({"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"})


def _unit(node: Any) -> str:
    unit = node.args.get("unit")
    return str(unit.name if hasattr(unit, "name") else unit or "").upper()


def trino_semantics(tree: Any) -> Any:
    """Where DuckDB answers a Trino expression with another type or value, make it
    answer as Trino does; silently different results are worse than an error.

    - ``date ± interval`` of days, weeks, months or years, and ``date_add`` of those
      units on a date, are a DATE in Trino and a TIMESTAMP in DuckDB:
      ``CAST(current_date - INTERVAL '7' DAY AS varchar)`` gave ``2026-11-27 00:00:00``
      locally, ``2026-11-27`` on Athena, and ``event_date >= …`` dropped the boundary day.
    - ``regexp_extract`` without a match is NULL in Trino, ``''`` in DuckDB.

    Types come from sqlglot's annotation (literals, casts, ``current_date``, date
    functions); an expression it cannot type is left as it is.
    """
    from sqlglot import exp
    from sqlglot.optimizer.annotate_types import annotate_types

    # typing a whole query is most of this step's time: only a query with a day-unit
    # interval or date_add has anything it could change by type
    candidates = tree.find_all(exp.Interval, exp.DateAdd, exp.DateSub)
    if any(_unit(node) in _DATE_UNITS for node in candidates):
        try:
            annotate_types(tree)
        except Exception:  # an expression sqlglot cannot type: translate as before
            return tree
    is_date = lambda n: n.type is not None and n.type.this == exp.DataType.Type.DATE  # noqa: E731
    changes: list[tuple[Any, str]] = []
    for node in tree.find_all(exp.Add, exp.Sub, exp.DateAdd, exp.DateSub, exp.RegexpExtract):
        if isinstance(node, exp.RegexpExtract):
            changes.append((node, "regexp"))
        elif isinstance(node, exp.Add | exp.Sub):
            left, right = node.this, node.expression
            interval = right if isinstance(right, exp.Interval) else left
            other = left if interval is right else right
            if isinstance(interval, exp.Interval) and _unit(interval) in _DATE_UNITS and (
                is_date(other)
            ):
                changes.append((node, "date"))
        elif _unit(node) in _DATE_UNITS and is_date(node.this):
            changes.append((node, "date"))
    # innermost first: an outer node's copy then holds its rewritten children
    for node, kind in reversed(changes):
        if kind == "date":
            node.replace(exp.Cast(this=node.copy(), to=exp.DataType.build("DATE")))
        else:
            text, pattern = node.this, node.expression
            node.replace(
                exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.RegexpLike(this=text.copy(), expression=pattern.copy()),
                            true=node.copy(),
                        )
                    ]
                )
            )
    return tree

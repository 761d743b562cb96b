"""Filters as a boolean expression: what the dashboard's flat ``name=value`` filters
cannot say (``or``, ``not``, "did / never did", regular expressions, two filters on one
dimension), for Plausible's Stats API v2.

The dashboard's own filters are an AND of one clause per dimension; the API can ask for
any tree of them. The tree travels as one more filter, ``where``, whose value is the
tree in JSON, so every path that treats a request as filtered (the views' filtered
expansion, the hosted function's day loading, funnels) sees it as it sees the others:
``queries`` turns it into the matching visits' SQL.

Shape (already translated from v2 names to the dashboard's filter names)::

    ["and" | "or", [node, ...]]
    ["not", node]
    ["has_done" | "has_not_done", leaf]        # leaf on page, event or prop.<key>
    [operator, name, [value, ...]]             # a leaf

Regular expressions (``matches``, ``matches_not``) are RE2's syntax as Plausible's are.
DuckDB runs them with RE2 (linear time); Athena's Trino may backtrack, so a pattern is
also refused when it could backtrack badly (a repeated group holding a repeat, a
backreference, a look-around) or is long: any accepted pattern runs in bounded time on
values of bounded length on either engine.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

from ownstats.dashboard.params import (
    FILTERS,
    MAX_FILTER_VALUES,
    NONE_VALUE,
    PROP_PREFIX,
    BadRequest,
    Clause,
    shown,
    spec_of,
)

#: the filter's URL parameter
PARAM = "where"
OPERATORS = ("is", "is_not", "contains", "contains_not", "matches", "matches_not")
MAX_DEPTH = 8
MAX_NODES = 50
MAX_TEXT = 16 * 1024
MAX_PATTERN = 256
#: RE2 refuses repeat counts above 1,000; a smaller bound keeps Trino's backtracking cheap
MAX_REPEAT = 100
#: repeats per pattern: a backtracking engine's time grows as the input's length to this power
MAX_REPEATS = 4


@dataclass(frozen=True)
class Leaf:
    """One dimension's clause: a column of the visit (``session``) or "the visit has an
    event like this" (``page``, ``event``, ``prop``)."""

    name: str
    clause: Clause

    @property
    def kind(self) -> str:
        return spec_of(self.name).kind


@dataclass(frozen=True)
class Node:
    """``and``/``or`` of ``children``, ``not`` of one, ``has_done``/``has_not_done``
    of one event leaf, or ``leaf``."""

    op: str
    children: tuple[Node, ...] = ()
    leaf: Leaf | None = None


def _pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is refused, or None: RE2 syntax that cannot backtrack badly."""
    if len(pattern) > MAX_PATTERN:
        return f"a pattern of at most {MAX_PATTERN} characters"
    if re.search(r"\\[1-9]|\(\?[=!<]|\(\?P=|[*+?}]\+", pattern):
        return "backreferences, look-arounds and possessive repeats are not RE2 syntax"
    try:
        parsed = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        return f"not a regular expression ({err})"
    repeats = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)
    single = (sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.IN,
              sre_constants.ANY, sre_constants.CATEGORY)  # fmt: skip
    count = [0]

    def walk(items: Any, inside_repeat: bool) -> str | None:
        for op, arg in items:
            if op in repeats:
                low, high, sub = arg
                if (high != sre_constants.MAXREPEAT and high > MAX_REPEAT) or low > MAX_REPEAT:
                    return f"repeat counts of at most {MAX_REPEAT}"
                if inside_repeat:
                    return "a repeat inside a repeated group (it can take exponential time)"
                count[0] += 1
                if count[0] > MAX_REPEATS:
                    return f"at most {MAX_REPEATS} repeats"
                found = walk(sub, True)
            elif op == sre_constants.SUBPATTERN:
                found = walk(arg[-1], inside_repeat)
            elif op == sre_constants.BRANCH:
                if inside_repeat:
                    return "alternatives inside a repeated group (it can take exponential time)"
                found = next((p for p in (walk(b, inside_repeat) for b in arg[1]) if p), None)
            elif op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
                return "backreferences are not RE2 syntax"
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                return "look-arounds are not RE2 syntax"
            elif op in single or op == sre_constants.AT:
                continue
            else:
                return f"{str(op).lower()} is not supported here"
            if found:
                return found
        return None

    return walk(parsed, False)


def leaf(operator: str, name: str, values: list[Any], where: str) -> Leaf:
    """A checked leaf; ``where`` names it in errors."""
    if operator not in OPERATORS:
        raise BadRequest(f"{where}: unknown operator {shown(str(operator))}")
    if not isinstance(name, str) or not (name in FILTERS or name.startswith(PROP_PREFIX)):
        raise BadRequest(f"{where}: unknown filter {shown(str(name))}")
    if name.startswith(PROP_PREFIX) and not 1 <= len(name) - len(PROP_PREFIX) <= 100:
        raise BadRequest(f"{where}: a property name of 1-100 characters")
    if not isinstance(values, list) or not values:
        raise BadRequest(f"{where}: a non-empty list of values")
    if len(values) > MAX_FILTER_VALUES:
        raise BadRequest(f"{where}: at most {MAX_FILTER_VALUES} values")
    for value in values:
        if not isinstance(value, str) or not value or "\x00" in value or len(value) > 2000:
            raise BadRequest(f"{where}: values are non-empty strings without NUL")
        if operator.startswith("matches"):
            problem = _pattern_problem(value)
            if problem:
                raise BadRequest(f"{where}: pattern {shown(value)} refused: {problem}")
        elif value == NONE_VALUE and operator not in ("is", "is_not"):
            raise BadRequest(f"{where}: {NONE_VALUE!r} is matched with is or is_not")
    found = Leaf(name, Clause(operator, tuple(values)))
    if found.kind == "event" and found.clause.negated:
        # Plausible's goals: a conversion is something a visit did; "never did" is
        # has_not_done
        raise BadRequest(f"{where}: a goal is matched with is, contains or matches")
    return found


def _node(value: Any, where: str, depth: int, count: list[int]) -> Node:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise BadRequest(f"{where}: at most {MAX_NODES} filters and operators in all")
    if depth > MAX_DEPTH:
        raise BadRequest(f"{where}: filters nested deeper than {MAX_DEPTH} levels")
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise BadRequest(f"{where}: a filter is a list starting with its operator")
    op = value[0]
    if op in ("and", "or"):
        if len(value) != 2 or not isinstance(value[1], list) or not value[1]:
            raise BadRequest(f'{where}: ["{op}", [filter, ...]]')
        return Node(op, tuple(
            _node(child, f"{where}/1/{i}", depth + 1, count) for i, child in enumerate(value[1])
        ))  # fmt: skip
    if op == "not":
        if len(value) != 2:
            raise BadRequest(f'{where}: ["not", filter]')
        return Node(op, (_node(value[1], f"{where}/1", depth + 1, count),))
    if op in ("has_done", "has_not_done"):
        inner = _node(value[1], f"{where}/1", depth + 1, count) if len(value) == 2 else None
        if inner is None or inner.leaf is None or inner.leaf.kind == "session":
            raise BadRequest(f"{where}: {op} takes one filter on a page, goal or custom property")
        return Node(op, leaf=inner.leaf)
    if len(value) != 3:
        raise BadRequest(f"{where}: Invalid filter {shown(json.dumps(value)[:80])}")
    return Node("leaf", leaf=leaf(op, value[1], value[2], where))


@functools.lru_cache(maxsize=256)
def parse(text: str) -> Node:
    """The tree of a ``where`` value (JSON), checked; BadRequest says what is wrong."""
    if len(text) > MAX_TEXT:
        raise BadRequest(f"'{PARAM}': at most {MAX_TEXT} characters")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(f"'{PARAM}' is not JSON") from None
    return _node(value, PARAM, 0, [0])


def leaves(node: Node) -> list[Leaf]:
    """Every leaf, in order."""
    if node.leaf is not None:
        return [node.leaf]
    return [found for child in node.children for found in leaves(child)]

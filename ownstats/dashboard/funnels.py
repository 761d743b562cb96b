"""Funnels: 2-8 steps (page paths with ``*`` patterns, or goals) and, for any period and
filters, how many visitors took them in order within one visit.

Semantics (Plausible's sequential funnel): a visit reaches step k when it has an event
matching step k *after* the one that reached step k-1; other pages and events may come
between. A visitor is counted at a step once per day (visitor ids change daily, as
everywhere in the dashboard). Visits are the ``sessions`` view's; events are
``events_deduped``'s: the funnel adds no definition of its own, only the ordering.

Where funnels are kept: locally ``<data>/funnels.json`` (``ownstats funnel add``);
hosted, ``s3://<lake bucket>/settings/funnels.json`` (``ownstats funnel add --stack``:
the owner edits them without a deploy; the function reads the object at most every
60 s), plus any the stack's ``-c funnels=<JSON>`` setting gives the function as
``OWNSTATS_FUNNELS`` (one of the object's with the same name wins).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ownstats.dashboard.params import Params, Span, sql_string

MIN_STEPS, MAX_STEPS = 2, 8
MAX_FUNNELS = 50
GOAL_PREFIX = "goal:"
_FILE = "funnels.json"
#: the hosted stack's funnels, in its lake bucket (the dashboard function may read it)
S3_OBJECT = "settings/funnels.json"
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
#: characters with a meaning in a regular expression (RE2 and DuckDB's alike)
_SPECIAL = set(".^$+?()[]{}|\\")


class FunnelError(ValueError):
    """A funnel that cannot be defined as asked; the message says why."""


@dataclass(frozen=True)
class Funnel:
    name: str
    steps: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "steps": list(self.steps)}


def checked(name: Any, steps: Any) -> Funnel:
    """A funnel from untrusted input (a file, a command, a setting), or FunnelError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise FunnelError("a funnel's name is 1-100 printable characters")
    if not isinstance(steps, list | tuple) or not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise FunnelError(f"funnel {name!r}: {MIN_STEPS} to {MAX_STEPS} steps")
    for step in steps:
        if not isinstance(step, str) or not 0 < len(step) <= 500 or "\x00" in step:
            raise FunnelError(f"funnel {name!r}: a step is a page path or goal:<name>")
        if step.startswith(GOAL_PREFIX):
            if not step[len(GOAL_PREFIX) :].strip():
                raise FunnelError(f"funnel {name!r}: 'goal:' needs the goal's name")
        elif not step.startswith("/"):
            raise FunnelError(
                f"funnel {name!r}: {step[:60]!r} is neither a page path (/pricing, "
                "/blog/*) nor a goal (goal:Signup)"
            )
    return Funnel(name, tuple(steps))


def parse_all(document: Any) -> list[Funnel]:
    """``[{"name": …, "steps": […]}, …]`` (or ``{"funnels": […]}``) as funnels."""
    items = document.get("funnels", []) if isinstance(document, dict) else document
    if not isinstance(items, list) or len(items) > MAX_FUNNELS:
        raise FunnelError(f"funnels: a list of at most {MAX_FUNNELS}")
    funnels = []
    for item in items:
        if not isinstance(item, dict):
            raise FunnelError('a funnel is {"name": …, "steps": […]}')
        funnels.append(checked(item.get("name"), item.get("steps")))
    if len({f.name for f in funnels}) != len(funnels):
        raise FunnelError("two funnels have the same name")
    return funnels


class FunnelStore:
    """``<data>/funnels.json``: read again whenever it changed (the CLI edits it)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / _FILE
        self._lock = threading.Lock()
        self._loaded: tuple[float, list[Funnel]] = (-1.0, [])

    def list(self) -> list[Funnel]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                return []
            if mtime != self._loaded[0]:
                self._loaded = (mtime, parse_all(json.loads(self.path.read_text("utf-8"))))
            return list(self._loaded[1])

    def _write(self, funnels: list[Funnel]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{_FILE}.{secrets.token_hex(4)}")
        temporary.write_text(json.dumps({"funnels": [f.as_dict() for f in funnels]}, indent=1))
        os.replace(temporary, self.path)

    def add(self, name: str, steps: list[str]) -> Funnel:
        funnel = checked(name, steps)
        funnels = [f for f in self.list() if f.name != name] + [funnel]
        parse_all([f.as_dict() for f in funnels])  # the limits of the whole set
        with self._lock:
            self._write(funnels)
        return funnel

    def remove(self, name: str) -> bool:
        funnels = self.list()
        kept = [f for f in funnels if f.name != name]
        if len(kept) == len(funnels):
            return False
        with self._lock:
            self._write(kept)
        return True


class S3FunnelStore(FunnelStore):
    """The hosted stack's funnels: ``s3://<lake bucket>/settings/funnels.json``, read at
    most every ``refresh_s`` (a change shows within that time)."""

    def __init__(self, bucket: str, client: Any, refresh_s: float = 60.0) -> None:
        super().__init__(Path("/nonexistent"))
        self.bucket, self.client, self.refresh_s = bucket, client, refresh_s
        self._checked = -float("inf")

    def list(self) -> list[Funnel]:
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.refresh_s:
                self._checked = now  # a damaged object is read again after refresh_s
                try:
                    body = self.client.get_object(Bucket=self.bucket, Key=S3_OBJECT)["Body"]
                    self._loaded = (now, parse_all(json.loads(body.read())))
                except self.client.exceptions.NoSuchKey:
                    self._loaded = (now, [])
                except (ValueError, RecursionError) as err:  # FunnelError is a ValueError
                    # the funnels last read stay: one bad edit does not empty the panel
                    logging.getLogger(__name__).warning(
                        "funnels: s3://%s/%s is not usable: %s", self.bucket, S3_OBJECT, err
                    )
            return list(self._loaded[1])

    def _write(self, funnels: list[Funnel]) -> None:
        body = json.dumps({"funnels": [f.as_dict() for f in funnels]}, indent=1)
        self.client.put_object(
            Bucket=self.bucket, Key=S3_OBJECT, Body=body.encode(),
            ContentType="application/json", ServerSideEncryption="AES256",
        )  # fmt: skip
        self._checked = -float("inf")


def combined(defined: list[Funnel], store: FunnelStore | None) -> list[Funnel]:
    """The stack setting's funnels and the store's; the store's win by name. A store
    that cannot be read (a damaged object) leaves the setting's."""
    if store is None:
        return list(defined)
    try:
        stored = store.list()
    except (ValueError, RecursionError) as err:  # a local file edited by hand
        logging.getLogger(__name__).warning("funnels: not usable: %s", err)
        stored = []
    names = {f.name for f in stored}
    return [f for f in defined if f.name not in names] + stored


def from_environment(value: str) -> list[Funnel]:
    """The hosted function's funnels (``OWNSTATS_FUNNELS``, JSON; empty: none)."""
    return parse_all(json.loads(value)) if value.strip() else []


def page_regex(pattern: str) -> str:
    """A page step as an anchored regular expression: ``*`` is any part of one path
    segment, ``**`` anything (as in ``-c mask_paths``)."""
    out, i = ["^"], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append("\\" + pattern[i] if pattern[i] in _SPECIAL else pattern[i])
            i += 1
    return "".join(out) + "$"


def _step_condition(step: str) -> str:
    if step.startswith(GOAL_PREFIX):
        goal = step[len(GOAL_PREFIX) :]
        return f"(e.event_type = 'event' AND e.event_name = {sql_string(goal)})"
    pattern = sql_string(page_regex(step))
    return f"(e.event_type = 'pageview' AND regexp_like(e.page_path, {pattern}))"


def funnel_sql(params: Params, funnel: Funnel) -> str:
    """One row per step (``step``, ``visitors``), over the period's matching visits."""
    from ownstats.dashboard import queries  # the dashboard's visits and filters

    span: Span = params.span
    visits, events_from = queries.period_visits(params)
    conditions = [_step_condition(step) for step in funnel.steps]
    flags = ", ".join(f"{c} AS s{i + 1}" for i, c in enumerate(conditions))
    ctes = [
        f"visits AS ({visits})",
        "ev AS (SELECT m.event_date, m.visitor_id, m.visit_no, e.event_time, "
        f"{flags} FROM {events_from} AS e JOIN visits AS m ON m.event_date = e.event_date "
        "AND m.domain_name = e.domain_name AND m.visitor_id = e.visitor_id "
        "AND e.event_time BETWEEN m.session_start AND m.session_end "
        f"WHERE {queries.site_days(params.site, span.start, span.end, 'e')} "
        f"AND ({' OR '.join(conditions)}))",
        "step1 AS (SELECT event_date, visitor_id, visit_no, min(event_time) AS t FROM ev "
        "WHERE s1 GROUP BY event_date, visitor_id, visit_no)",
    ]
    for k in range(2, len(funnel.steps) + 1):
        ctes.append(
            f"step{k} AS (SELECT p.event_date, p.visitor_id, p.visit_no, min(e.event_time) "
            f"AS t FROM step{k - 1} AS p JOIN ev AS e ON e.event_date = p.event_date "
            "AND e.visitor_id = p.visitor_id AND e.visit_no = p.visit_no "
            f"AND e.event_time > p.t WHERE e.s{k} "
            "GROUP BY p.event_date, p.visitor_id, p.visit_no)"
        )
    counts = " UNION ALL ".join(
        f"SELECT {k} AS step, count(*) AS visitors FROM "
        f"(SELECT DISTINCT event_date, visitor_id FROM step{k}) AS d{k}"
        for k in range(1, len(funnel.steps) + 1)
    )
    return f"WITH {', '.join(ctes)} {counts}"


def shaped(funnel: Funnel, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step's visitors, drop-off from the step before and conversion rates."""
    by_step = {int(r["step"]): int(r["visitors"] or 0) for r in rows}
    first = by_step.get(1, 0)
    out, before = [], None
    for k, step in enumerate(funnel.steps, start=1):
        visitors = by_step.get(k, 0)
        dropoff = None if before is None else before - visitors
        out.append(
            {
                "step": k,
                "label": step,
                "visitors": visitors,
                "dropoff": dropoff,
                "dropoff_rate": (dropoff / before) if before else None,
                "conversion_rate": visitors / first if first else None,
            }
        )
        before = visitors
    return out

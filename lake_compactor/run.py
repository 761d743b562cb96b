"""The compaction protocol: crash-safe and idempotent, on any ``Store``.

One run, in this order:

1. **List** everything under ``events/`` once (data objects and manifests).
2. **Settle manifests** (``events/_compaction/<run>.json``), oldest first:
   - *committed* and older than ``delete_grace_s``: if every output it names still
     exists with its recorded size, delete **exactly** its input keys, then the
     manifest. (An output that went missing means: delete no input, drop the
     manifest; the inputs are then compacted again.)
   - *intent* older than ``stale_intent_s`` (its run died): delete the outputs it may
     have written (its output prefix), then the manifest; its inputs were never
     touched.
   - anything younger: its inputs (and an intent's outputs) are *busy*, left alone.
3. **Plan** each partition (``lake_compactor.policy``), newest day first, and carry
   each plan out:
   ``intent manifest`` → fetch inputs → merge + verify row count → upload outputs →
   ``committed manifest``. Inputs are never deleted in the run that replaced them.

Why no event is lost or counted twice by a view, wherever a run stops:

- Nothing is deleted before a verified copy of its rows has been committed, and only
  keys captured in a manifest are ever deleted (never a listing taken later, so a
  file Firehose delivers meanwhile cannot be deleted).
- Between "outputs uploaded" and "inputs deleted" each event is stored twice: the raw
  ``events`` table counts it twice for that time; every view reads
  ``events_deduped`` (one row per ``event_id`` and day), so no view does.
- A rerun redoes only what is unfinished: a stale intent is rolled back, a
  committed manifest is finished, anything else is planned afresh from the objects
  that exist; running twice in a row changes nothing the second time.

``checkpoint(step)`` is called after each step that changes the store; it does nothing
(tests replace it to kill a run exactly there).
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from lake_compactor.merge import MergeError, connect, merge
from lake_compactor.policy import (
    MANIFEST_DIR,
    Plan,
    Policy,
    StoredObject,
    output_prefix,
    partition_of,
    plan_partition,
    run_id,
)
from lake_compactor.store import Store
from lake_compactor.validate import file_problem

__all__ = ["EVENTS_PREFIX", "Report", "checkpoint", "compact", "manifest_prefix"]

log = logging.getLogger(__name__)

EVENTS_PREFIX = "events/"
MANIFEST_VERSION = 1
#: parallel downloads of a plan's inputs (S3 latency, not bandwidth, is the limit)
FETCH_THREADS = 8


def manifest_prefix(events_prefix: str = EVENTS_PREFIX) -> str:
    return f"{events_prefix}{MANIFEST_DIR}/"


def checkpoint(step: str) -> None:
    """Called after every step that changes the store (a seam for crash tests)."""


@dataclass
class Report:
    """What one run did (logged as one JSON line by the Lambda)."""

    partitions: int = 0
    compacted: list[dict[str, Any]] = field(default_factory=list)
    deleted_inputs: int = 0
    settled_manifests: int = 0
    rolled_back: int = 0
    deferred: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: objects moved to quarantine/ because they are no readable events files, with why
    quarantined: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "partitions": self.partitions,
            "compacted": self.compacted,
            "deleted_inputs": self.deleted_inputs,
            "settled_manifests": self.settled_manifests,
            "rolled_back": self.rolled_back,
            "deferred": self.deferred,
            "errors": self.errors,
            "quarantined": self.quarantined,
        }


def compact(
    store: Store,
    *,
    workdir: Path,
    policy: Policy | None = None,
    clock: Callable[[], float] = time.time,
    time_left: Callable[[], float] | None = None,
    min_time_left_s: float = 240,
    events_prefix: str = EVENTS_PREFIX,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> Report:
    """One compaction run over the store (see the module docstring)."""
    policy = policy or Policy()
    report = Report()
    now = clock()
    manifests_at = manifest_prefix(events_prefix)
    listing = store.list(events_prefix)
    existing = {o.key: o for o in listing}
    manifests = sorted(o.key for o in listing if o.key.startswith(manifests_at))

    busy: set[str] = set()
    for key in manifests:
        try:
            _settle(store, key, existing, busy, now, policy, report)
        except Exception as err:  # one bad manifest must not stop the others
            log.exception("compaction: manifest %s", key)
            report.errors.append(f"manifest {key}: {type(err).__name__}: {err}")

    partitions: dict[str, list[StoredObject]] = {}
    for obj in existing.values():
        day = partition_of(obj.key, events_prefix)
        if day is not None:
            partitions.setdefault(day, []).append(obj)
    report.partitions = len(partitions)

    duck = _Connection(workdir, threads=threads, memory_limit=memory_limit)
    try:
        for day in sorted(partitions, reverse=True):  # today first: dashboards read it most
            plan = plan_partition(day, partitions[day], now=now, policy=policy, busy=busy)
            if plan is None:
                continue
            if time_left is not None and time_left() < min_time_left_s:
                report.deferred.append(day)
                continue
            try:
                report.compacted.append(
                    _execute(
                        store, plan, report, workdir=workdir, policy=policy, clock=clock,
                        events_prefix=events_prefix, duck=duck,
                    )
                )  # fmt: skip
            except Exception as err:
                duck.discard()
                log.exception("compaction: partition %s", day)
                report.errors.append(f"{day}: {type(err).__name__}: {err}")
    finally:
        duck.close()
    return report


class _Connection:
    """The DuckDB connection a run checks and merges its partitions with, opened on first
    use and shared by them: opening one takes about 12 ms, and one for the checks and
    one for the merge of each partition were a fifth of ``ownstats ingest``'s final
    compaction (eight small days). After any failure it is dropped and the next use
    opens a fresh one, as every step once had its own. It spills to a directory of its
    own, removed when the run ends."""

    def __init__(self, workdir: Path, *, threads: int | None, memory_limit: str | None) -> None:
        self.spill = workdir / f"spill-{uuid.uuid4().hex[:12]}"
        self.threads = threads
        self.memory_limit = memory_limit
        self._con: duckdb.DuckDBPyConnection | None = None

    def get(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = connect(self.spill, threads=self.threads, memory_limit=self.memory_limit)
        return self._con

    def discard(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            con.close()

    def close(self) -> None:
        try:
            self.discard()
        finally:
            shutil.rmtree(self.spill, ignore_errors=True)


def _set_aside(
    store: Store,
    inputs: dict[str, Path],
    *,
    read_all: bool,
    report: Report,
    con: duckdb.DuckDBPyConnection,
) -> set[str]:
    """Move the inputs that are no readable events files to quarantine/; their keys.

    A quarantined object is also an error of the run: on AWS the invocation then
    fails, so the failure alarm fires, after everything else was done. ``con`` reads
    them (the run's connection, the merge's too).
    """
    problems = {key: file_problem(con, path, read_all=read_all) for key, path in inputs.items()}
    bad = {key for key, problem in problems.items() if problem}
    for key in sorted(bad):
        target = store.quarantine(key)
        report.quarantined[key] = str(problems[key])
        report.errors.append(f"{key}: {problems[key]}; moved to {target}")
        log.error("compaction: %s is no events file (%s); moved to %s", key, problems[key], target)
        checkpoint("quarantined")
    return bad


def _delete(store: Store, keys: list[str], existing: dict[str, StoredObject], step: str) -> None:
    """Delete ``keys``, mark the step for crash tests, and forget them in this run's listing."""
    store.delete(keys)
    checkpoint(step)
    for key in keys:
        existing.pop(key, None)


def _settle(
    store: Store,
    key: str,
    existing: dict[str, StoredObject],
    busy: set[str],
    now: float,
    policy: Policy,
    report: Report,
) -> None:
    """Finish, roll back or respect one manifest (step 2 of the module docstring)."""
    manifest = store.get_json(key)
    if manifest is None:  # settled meanwhile
        return
    inputs = [item["key"] for item in manifest.get("inputs", [])]
    state = manifest.get("state")
    if state == "committed":
        if now - float(manifest["committed_at"]) < policy.delete_grace_s:
            busy.update(inputs)
            return
        missing = [
            out["key"]
            for out in manifest.get("outputs", [])
            if out["key"] not in existing or existing[out["key"]].size != int(out["size"])
        ]
        if missing:
            # never delete an input whose copy is not where the manifest says
            log.error("compaction: %s: outputs missing %s; keeping its inputs", key, missing)
            report.errors.append(f"manifest {key}: outputs missing, inputs kept")
        else:
            _delete(store, inputs, existing, "inputs_deleted")
            report.deleted_inputs += len(inputs)
        _delete(store, [key], existing, "manifest_deleted")
        report.settled_manifests += 1
        return
    # an intent (or an unreadable state): its run is in progress or died
    prefix = manifest.get("output_prefix", "")
    written = [k for k in existing if prefix and k.startswith(prefix)]
    if now - float(manifest.get("created_at", 0)) < policy.stale_intent_s:
        busy.update(inputs)
        busy.update(written)
        return
    if written:
        _delete(store, written, existing, "outputs_rolled_back")
    _delete(store, [key], existing, "manifest_deleted")
    report.rolled_back += 1


def _execute(
    store: Store,
    plan: Plan,
    report: Report,
    *,
    workdir: Path,
    policy: Policy,
    clock: Callable[[], float],
    events_prefix: str,
    duck: _Connection,
) -> dict[str, Any]:
    """Carry out one plan (step 3): intent → outputs → commit. Returns a summary."""
    started = clock()
    timer = time.perf_counter()
    run = run_id(started, uuid.uuid4().hex)
    manifest_key = f"{manifest_prefix(events_prefix)}{run}.json"
    prefix = output_prefix(events_prefix, plan.day, plan.tier, run)
    manifest: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "state": "intent",
        "day": plan.day,
        "tier": plan.tier,
        "reason": plan.reason,
        "created_at": started,
        "inputs": [{"key": o.key, "size": o.size} for o in plan.inputs],
        "output_prefix": prefix,
    }
    store.put_json(manifest_key, manifest)
    checkpoint("intent_written")

    local = workdir / run
    uploaded: list[str] = []
    try:
        # a backlog day can be 1,440 small objects: fetch them side by side
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            fetched = list(pool.map(lambda o: store.fetch(o.key, local / "in"), plan.inputs))
        inputs = dict(zip((o.key for o in plan.inputs), fetched, strict=True))
        for read_all in (False, True):
            # the footer of every input first; after a failed merge, every page of each
            bad = _set_aside(store, inputs, read_all=read_all, report=report, con=duck.get())
            if bad:
                duck.discard()  # a damaged file was read with it: merge with a fresh one
                inputs = {k: p for k, p in inputs.items() if k not in bad}
                manifest["inputs"] = [
                    {"key": o.key, "size": o.size} for o in plan.inputs if o.key in inputs
                ]
                store.put_json(manifest_key, manifest)
            if not inputs:
                raise MergeError(f"every input of {plan.day} was set aside")
            try:
                result = merge(
                    list(inputs.values()), local / "out", policy=policy,
                    temp_dir=duck.spill, con=duck.get(),
                )  # fmt: skip
                break
            except MergeError:
                duck.discard()
                shutil.rmtree(local / "out", ignore_errors=True)
                if read_all:
                    raise
        outputs = []
        for number, output in enumerate(result.outputs):
            key = f"{prefix}{number:03d}.parquet"
            store.upload(output.path, key)
            uploaded.append(key)
            checkpoint("output_written")
            outputs.append({"key": key, "size": output.size, "rows": output.rows})
        manifest.update(
            state="committed", committed_at=clock(), outputs=outputs,
            input_rows=result.input_rows, rows=result.rows,
        )  # fmt: skip
        store.put_json(manifest_key, manifest)
        checkpoint("committed")
    except Exception:
        # an ordinary failure (not a crash): undo what this run wrote, keep the inputs
        try:
            store.delete([*uploaded, manifest_key])
        except Exception:
            log.exception("compaction: cleanup of %s failed; the next run rolls it back", run)
        raise
    finally:
        shutil.rmtree(local, ignore_errors=True)
    return {
        "day": plan.day,
        "tier": plan.tier,
        "inputs": len(inputs),
        "input_bytes": sum(o.size for o in plan.inputs if o.key in inputs),
        "input_rows": result.input_rows,
        "outputs": len(outputs),
        "output_bytes": sum(o["size"] for o in outputs),
        "rows": result.rows,
        "seconds": round(time.perf_counter() - timer, 3),
    }

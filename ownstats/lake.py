"""The local lake: where local mode's processor delivers events, and what DuckDB reads.

In AWS, Firehose converts the processor's JSON records to Parquet with the Glue schema
and writes ``events/event_date=YYYY-MM-DD/…parquet`` to S3. ``LakeSink`` replaces
Firehose (and only Firehose) on a laptop: it implements the processor's sink protocol
and writes the same layout under a data directory, so ``ownstats.engine`` runs the
same views over the same shape of files. Like Firehose's output, the files carry no
``event_date`` column; the directory name is the partition value.

The Parquet schema is derived from ``stream_processor.schema`` (never written out
again here). ``event_time`` is stored as a millisecond timestamp *without* time zone
holding UTC, because that is what Athena's ``timestamp`` is; DuckDB then reads it as
``TIMESTAMP`` and ``hour(event_time)`` means the UTC hour in both engines.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake_compactor.policy import LOCAL_POLICY, Policy, StoredObject
from lake_compactor.store import LocalStore, fsync_dir
from stream_processor.schema import EVENT_COLUMNS, PARTITION_KEYS
from stream_processor.text import storable, storable_props

if TYPE_CHECKING:
    from lake_compactor.run import Report

__all__ = [
    "EVENTS_SCHEMA",
    "LakeSink",
    "LakeWriteError",
    "arrow_schema",
    "arrow_type",
    "events_dir",
    "fsync_dir",
    "partition_dir",
    "partition_files",
    "stored_event_ids",
]

log = logging.getLogger(__name__)

_PARTITION_KEY = PARTITION_KEYS[0][0]
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT32 = (-(2**31), 2**31 - 1)
_MAP = re.compile(r"^map<\s*(\w+)\s*,\s*(\w+)\s*>$")
_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    # UTC wall time without zone: Athena's timestamp semantics (see module docstring)
    "timestamp": pa.timestamp("ms"),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}
#: position of the dedupe key in a row's values
_EVENT_ID = [name for name, _, _ in EVENT_COLUMNS].index("event_id")
#: columns an event cannot be stored without (dedupe key, time, partition, site)
_REQUIRED = ("event_id", "event_time", "event_type", "domain_name")


def arrow_type(glue_type: str) -> pa.DataType:
    """The pyarrow type for a Glue/Hive type name of the events schema."""
    glue_type = glue_type.strip().lower()
    if glue_type in _SCALARS:
        return _SCALARS[glue_type]
    match = _MAP.match(glue_type)
    if match:
        return pa.map_(arrow_type(match.group(1)), arrow_type(match.group(2)))
    raise ValueError(f"no pyarrow type for Glue type {glue_type!r}; add it to ownstats.lake")


def arrow_schema() -> pa.Schema:
    """Schema of the Parquet files: the events columns without the partition key."""
    return pa.schema(
        [
            pa.field(name, arrow_type(glue), metadata={"comment": comment} if comment else None)
            for name, glue, comment in EVENT_COLUMNS
        ]
    )


EVENTS_SCHEMA: pa.Schema = arrow_schema()


def salts_dir(data_dir: str | os.PathLike[str]) -> Path:
    """Local salts live beside the lake, never inside ``events/`` (docs/PROTOCOL.md, privacy)."""
    return Path(data_dir) / "salts"


def events_dir(data_dir: str | os.PathLike[str]) -> Path:
    """``<data>/events``: the table's location, as ``s3://<lake>/events/`` in AWS."""
    return Path(data_dir) / "events"


def partition_dir(data_dir: str | os.PathLike[str], day: str) -> Path:
    """``<data>/events/event_date=YYYY-MM-DD``: one day's partition."""
    return events_dir(data_dir) / f"{_PARTITION_KEY}={day}"


def partition_files(data_dir: str | os.PathLike[str], day: str) -> list[Path]:
    """The finished Parquet files of a day (temp files never end in ``.parquet``)."""
    return sorted(partition_dir(data_dir, day).glob("*.parquet"))


class LakeWriteError(OSError):
    """Events could not be written after retries; they are kept in the sink's buffer."""


@dataclass(slots=True)
class _Row:
    day: str
    values: tuple[Any, ...]
    batch: int  # which put() call the row came from
    index: int  # its index in that call


def _check(name: str, glue_type: str, value: Any) -> Any:
    """Validate one value against its Glue type; raise ValueError when it cannot be stored."""
    if value is None:
        if name in _REQUIRED:
            raise ValueError(f"{name} is required")
        return None
    if glue_type == "string":
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
    elif glue_type == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be epoch milliseconds (int)")
    elif glue_type in ("int", "bigint"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int")
        if glue_type == "int" and not _INT32[0] <= value <= _INT32[1]:
            raise ValueError(f"{name} out of int32 range")
    elif glue_type == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        return float(value)
    elif glue_type.startswith("map<"):
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError(f"{name} must be a dict of strings")
        return list(value.items())
    return value


#: (name, Glue type, whether a plain str passes as is): the hot loop's fast path
_COLUMN_CHECKS = tuple((name, glue, glue == "string") for name, glue, _ in EVENT_COLUMNS)
_NAMES = tuple(name for name, _, _ in _COLUMN_CHECKS)
#: per combination of a row's value types, the columns to check in order: (index, name,
#: Glue type, whether only the int32 range is left to check: an int in an int column)
_PLANS: dict[tuple[type, ...], tuple[tuple[int, str, str, bool], ...]] = {}
#: combinations remembered: the processor's events come in a few dozen
_MAX_PLANS = 1024
#: (Glue type, value type) pairs ``_check`` returns as they are (a float(x) of a float is x)
_PASS = frozenset({("timestamp", int), ("bigint", int), ("double", float)})


def _plan(types: tuple[type, ...]) -> tuple[tuple[int, str, str, bool], ...]:
    """The columns ``_to_row`` checks in a row whose values have these types: all but a
    plain ``str`` in a string column, None in an optional one and a value ``_check``
    returns unchanged for its type alone (``_PASS``)."""
    plan = []
    for i, (name, glue, plain) in enumerate(_COLUMN_CHECKS):
        kind = types[i]
        if (plain and kind is str) or (kind is type(None) and name not in _REQUIRED):
            continue
        if (glue, kind) not in _PASS:
            plan.append((i, name, glue, glue == "int" and kind is int))
    return tuple(plan)


def _to_row(event: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """(partition day, column values) of one processor event; ValueError if unstorable.

    What a value needs depends only on its column and its type, and a processor's
    events come in a few combinations of types: the plan (``_plan``) is kept per
    combination, so a row costs a few C-level calls plus the checks its numbers and
    props need, not a Python loop over all 37 columns (a tenth of ``ownstats
    ingest``'s time went to that loop). The outcome, the first error included, is the
    loop's: ``_check`` on every value that is not plainly fine, in column order.
    """
    values = list(map(event.get, _NAMES))
    types = tuple(map(type, values))
    plan = _PLANS.get(types)
    if plan is None:
        plan = _plan(types)
        if len(_PLANS) < _MAX_PLANS:
            _PLANS[types] = plan
    low, high = _INT32
    for i, name, glue, only_range in plan:
        value = values[i]
        if not (only_range and low <= value <= high):
            values[i] = _check(name, glue, value)
    day = event.get(_PARTITION_KEY)
    if day is None:
        day = time.strftime("%Y-%m-%d", time.gmtime(event["event_time"] // 1000))
    if not isinstance(day, str) or not _DAY.match(day):
        raise ValueError(f"{_PARTITION_KEY} must be YYYY-MM-DD")
    return day, tuple(values)


#: what converting a row to Arrow raises when a value does not fit its column
_UNSTORABLE = (pa.ArrowException, UnicodeError, ValueError, TypeError, OverflowError)


def _storable(value: Any) -> Any:
    """A column value repaired as ``stream_processor.text`` repairs an event's."""
    if isinstance(value, str):
        return storable(value, keep_whitespace=True)
    if isinstance(value, list):  # props as (key, value) pairs: the same rule as the events'
        return list((storable_props(dict(value)) or {}).items()) or None
    return value


def _table(rows: Iterable[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, EVENTS_SCHEMA, strict=True)],
        schema=EVENTS_SCHEMA,
    )


def _write_atomically(table: pa.Table, directory: Path, prefix: str) -> Path:
    """Write a Parquet file so readers only ever see it whole: temp name, fsync, rename."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}-{time.time_ns()}-{uuid.uuid4().hex[:12]}"
    tmp = directory / f".{name}.tmp"
    final = directory / f"{name}.parquet"
    try:
        pq.write_table(table, tmp, compression="snappy")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # the rename itself must survive a crash before the caller forgets the rows (serve's
    # spool deletes its raw lines once their events are written: ownstats.server)
    fsync_dir(directory)
    return final


def stored_event_ids(data_dir: str | os.PathLike[str], day: str) -> set[str]:
    """The event_ids already in a day's files (only that column is read)."""
    ids: set[str] = set()
    for path in partition_files(data_dir, day):
        try:
            column = pq.read_table(path, columns=["event_id"]).column("event_id")
        except (OSError, pa.ArrowException) as err:
            log.warning("lake: cannot read event_ids of %s: %s", path, err)
            continue
        ids.update(column.to_pylist())
    return ids


class LakeSink:
    """The processor's sink in local mode: buffers events, writes one Parquet file per
    partition per flush, and compacts a partition once it has too many files.

    Compaction is the AWS stack's (``lake_compactor``), with ``LOCAL_POLICY``: the
    same plans, manifests and crash safety, run on a background thread at most every
    ``compact_interval_s`` once a partition holds more than ``compact_threshold`` files,
    so a flush never waits for a merge.

    Why buffering: one file per beacon would make a busy day thousands of tiny files.
    Why it is still safe: rows stay in the buffer until their file is renamed into
    place; a write that fails during ``put()`` hands *that call's* events back as failed
    indexes (the processor then reports them to Kinesis for retry); rows accepted by an
    earlier ``put()`` are retried on the next flush and ``flush()``/``close()`` raise
    ``LakeWriteError`` while any remain. Thread-safe; one sink per data directory.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        max_buffer_rows: int = 5000,
        max_buffer_age_s: float = 1.0,
        compact_threshold: int = 16,
        compact_interval_s: float = 10.0,
        compaction_policy: Policy = LOCAL_POLICY,
        background_compaction: bool = True,
        write_retries: int = 3,
        retry_delay_s: float = 0.05,
        autoflush_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.max_buffer_rows = max_buffer_rows
        self.max_buffer_age_s = max_buffer_age_s
        self.compact_threshold = compact_threshold
        self.compact_interval_s = compact_interval_s
        self.compaction_policy = compaction_policy
        self.background_compaction = background_compaction
        self._wall_clock = wall_clock
        #: one compaction at a time; the last one's start (monotonic) and its thread
        self._compaction_lock = threading.Lock()
        self._last_compaction = float("-inf")
        self._compactor: threading.Thread | None = None
        #: what the last compaction run did (tests, logs)
        self.last_compaction: Report | None = None
        self.write_retries = write_retries
        self.retry_delay_s = retry_delay_s
        self._clock = clock
        self._lock = threading.RLock()
        self._buffer: list[_Row] = []
        self._oldest: float | None = None
        self._batches = 0
        self._closed = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        #: while set (``skip_stored``), event_ids already stored per day: a replay of
        #: raw lines that were partly written before a crash is not written twice
        self._stored: dict[str, set[str]] | None = None
        #: events not written because they were already stored (``skip_stored``)
        self.skipped = 0
        #: events dropped because no repair made them fit the Parquet schema
        self.unstorable = 0
        #: why the last write failed (None once a write succeeds)
        self.last_error: OSError | None = None
        events_dir(self.data_dir).mkdir(parents=True, exist_ok=True)
        if autoflush_s is not None:
            # bounds how long an event waits when no further put() arrives (serve mode:
            # "visible to queries within 2 s")
            self._flusher = threading.Thread(
                target=self._autoflush, args=(autoflush_s,), name="lake-autoflush", daemon=True
            )
            self._flusher.start()

    # -- the Sink protocol -------------------------------------------------------------

    def put(self, events: Sequence[Mapping[str, Any]]) -> list[int]:
        """Store events; return the indexes of those that could not be stored."""
        failed: list[int] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("LakeSink is closed")
            self._batches += 1
            batch = self._batches
            for index, event in enumerate(events):
                try:
                    day, values = _to_row(event)
                except (ValueError, TypeError, KeyError, AttributeError) as err:
                    log.warning("lake: event %d cannot be stored: %s", index, err)
                    failed.append(index)
                    continue
                self._buffer.append(_Row(day, values, batch, index))
            if self._buffer and self._oldest is None:
                self._oldest = self._clock()
            if self._due():
                unwritten = self._write_buffer()
                mine = [row for row in unwritten if row.batch == batch]
                if mine:
                    # hand this call's events back to the caller instead of holding them
                    self._buffer = [row for row in self._buffer if row.batch != batch]
                    failed.extend(row.index for row in mine)
        return sorted(failed)

    def skip_stored(self, enabled: bool) -> None:
        """While enabled, rows whose event_id is already in their day's files (or was
        written earlier in this mode) are not written again.

        For replays: ``ownstats serve`` re-processes the raw lines of its spool after a
        crash, and some of their events may have reached the lake before it. Reading a
        day's event_ids costs a scan of that column, so this is off in normal operation.
        """
        with self._lock:
            self._stored = {} if enabled else None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Rows accepted but not yet in a Parquet file."""
        with self._lock:
            return len(self._buffer)

    def flush(self) -> None:
        """Write every buffered row; raise LakeWriteError (rows kept) if some cannot be."""
        with self._lock:
            unwritten = self._write_buffer()
        if unwritten:
            days = sorted({row.day for row in unwritten})
            raise LakeWriteError(
                f"{len(unwritten)} events for {', '.join(days)} could not be written to "
                f"{events_dir(self.data_dir)}; they are kept in memory and retried on the "
                "next flush — check free disk space and permissions"
            )

    def close(self) -> None:
        """Stop the autoflush thread and flush; raises LakeWriteError if data would be lost."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        compactor = self._compactor
        if compactor is not None:
            compactor.join()
        with self._lock:
            self.flush()
            self._closed = True

    def __enter__(self) -> LakeSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- compaction --------------------------------------------------------------------

    def compact(self, day: str | None = None, *, min_files: int = 2) -> int:
        """Compact now and finish at once; return the number of files removed.

        For the moments nothing else writes (the end of ``ownstats ingest``, a stopping
        ``ownstats serve``): the same protocol with no minimum age and no grace before
        replaced files go, so each partition (or only ``day``) with ``min_files`` or
        more files ends as one file per tier (closed days: one sorted file). Duplicate
        event_ids are dropped by the merge; a crash half-way loses nothing (see
        ``lake_compactor.run``).
        """
        policy = replace(
            self.compaction_policy, min_age_s=0, delete_grace_s=0, min_raw_files=min_files
        )
        removed = 0
        # the first run commits the merges, the second deletes what they replaced
        for _ in range(2):
            report = self._run_compaction(policy, day=day)
            removed += report.deleted_inputs
        return removed

    def _maybe_compact(self) -> None:
        """Start a background run if none is running and the last began long enough ago."""
        now = self._clock()
        if now - self._last_compaction < self.compact_interval_s:
            return
        if self._compactor is not None and self._compactor.is_alive():
            return
        self._last_compaction = now
        if not self.background_compaction:
            self._run_compaction(self.compaction_policy, wait=False)
            return
        self._compactor = threading.Thread(
            target=self._run_compaction,
            args=(self.compaction_policy,),
            kwargs={"wait": False},
            name="lake-compaction",
            daemon=True,
        )
        self._compactor.start()

    def _run_compaction(
        self, policy: Policy, *, day: str | None = None, wait: bool = True
    ) -> Report:
        # duckdb (the compactor's merge) is imported here, not with the lake: ``ownstats
        # ingest`` reaches its first record without it (~0.1 s of start-up)
        from lake_compactor.run import Report, compact

        store: LocalStore = LocalStore(self.data_dir)
        if day is not None:
            store = _OneDay(self.data_dir, day)
        with self._compaction_lock, _compaction_process_lock(self.data_dir, wait=wait) as held:
            if not held:  # another process (serve, ingest) is compacting this lake now
                return Report()
            try:
                report = compact(
                    store,
                    workdir=self.data_dir / ".compaction",
                    policy=policy,
                    clock=self._wall_clock,
                    threads=1,
                )
            except Exception as err:  # a listing or manifest error: next run retries
                log.warning("lake: compaction failed, files left as they were: %s", err)
                report = Report(errors=[f"{type(err).__name__}: {err}"])
            for error in report.errors:
                log.warning("lake: compaction: %s", error)
            self.last_compaction = report
            return report

    # -- internals ---------------------------------------------------------------------

    def _due(self) -> bool:
        if not self._buffer:
            return False
        if len(self._buffer) >= self.max_buffer_rows:
            return True
        return self._oldest is not None and self._clock() - self._oldest >= self.max_buffer_age_s

    def _write_buffer(self) -> list[_Row]:
        """Write the buffer, one file per day; keep and return the rows that failed."""
        by_day: dict[str, list[_Row]] = {}
        for row in self._buffer:
            by_day.setdefault(row.day, []).append(row)
        unwritten: list[_Row] = []
        for day, rows in sorted(by_day.items()):
            if not self._write_day(day, rows):
                unwritten.extend(rows)
        self._buffer = unwritten
        self._oldest = self._clock() if unwritten else None
        return unwritten

    def _write_day(self, day: str, rows: list[_Row]) -> bool:
        stored: set[str] | None = None
        if self._stored is not None:
            if day not in self._stored:
                self._stored[day] = stored_event_ids(self.data_dir, day)
            stored = self._stored[day]
            fresh: list[_Row] = []
            seen: set[str] = set()
            for row in rows:
                event_id = row.values[_EVENT_ID]
                if event_id not in stored and event_id not in seen:
                    seen.add(event_id)
                    fresh.append(row)
            self.skipped += len(rows) - len(fresh)
            if not fresh:
                return True
            rows = fresh
        try:
            table = _table(row.values for row in rows)
        except _UNSTORABLE:
            rows = self._set_aside_unstorable(day, rows)
            if not rows:
                return True
            table = _table(row.values for row in rows)
        directory = partition_dir(self.data_dir, day)
        for attempt in range(1, self.write_retries + 1):
            try:
                _write_atomically(table, directory, "part")
                self.last_error = None
                break
            except OSError as err:
                self.last_error = err
                log.warning(
                    "lake: writing %d events to %s failed (attempt %d/%d): %s",
                    len(rows),
                    directory,
                    attempt,
                    self.write_retries,
                    err,
                )
                if attempt < self.write_retries:
                    time.sleep(self.retry_delay_s * attempt)
        else:
            return False
        if stored is not None:
            stored.update(row.values[_EVENT_ID] for row in rows)
        if len(partition_files(self.data_dir, day)) > self.compact_threshold:
            self._maybe_compact()
        return True

    def _set_aside_unstorable(self, day: str, rows: list[_Row]) -> list[_Row]:
        """The rows that convert to Parquet, each tried alone after the whole failed.

        A row whose strings still cannot be UTF-8 is repaired (``storable``); one that
        cannot be converted even then is dropped, counted in ``unstorable`` and named
        in one log line, so it can never hold the buffer (and every later event) back.
        """
        kept: list[_Row] = []
        dropped = 0
        for row in rows:
            for values in (row.values, tuple(_storable(v) for v in row.values)):
                try:
                    _table([values])
                except _UNSTORABLE:
                    continue
                kept.append(_Row(row.day, values, row.batch, row.index))
                break
            else:
                dropped += 1
        if dropped:
            self.unstorable += dropped
            log.error("lake: %d events for %s cannot be stored as Parquet; dropped", dropped, day)
        return kept

    def _autoflush(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.flush()
            except LakeWriteError as err:
                log.error("lake: %s", err)
            except Exception as err:  # this thread must outlive any bug: it is collection
                log.error("lake: flush failed (%s); retrying", type(err).__name__)


@contextlib.contextmanager
def _compaction_process_lock(data_dir: Path, *, wait: bool) -> Iterator[bool]:
    """One compaction of a data directory at a time, across processes (``serve`` and an
    ``ingest`` into the same lake): an advisory ``flock``, released by the OS if the
    holder dies. Two at once each merged the other's inputs, and the raw ``events``
    table counted events several times until the next run (the views were right).
    Yields whether the lock is held; without ``wait`` a busy lock yields False."""
    directory = data_dir / ".compaction"
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class _OneDay(LocalStore):
    """The data directory as the compactor sees it, narrowed to one partition (and the
    manifests, which any run may settle)."""

    def __init__(self, root: str | os.PathLike[str], day: str) -> None:
        from lake_compactor.run import EVENTS_PREFIX, manifest_prefix

        super().__init__(root)
        self._keep = (f"{EVENTS_PREFIX}{_PARTITION_KEY}={day}/", manifest_prefix())

    def list(self, prefix: str) -> list[StoredObject]:
        return [o for o in super().list(prefix) if o.key.startswith(self._keep)]

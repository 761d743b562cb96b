"""Local mode's stand-in for CloudFront and Kinesis: serve the tracker, log each beacon.

For every ``/hello.gif`` request the collector writes the record CloudFront's
real-time log would carry, byte for byte (the same field list, the query inside
``cs-uri-stem``, CloudFront's extra URL-encoding: ``stream_processor.logline``) onto
an in-memory stream. A pump thread hands what arrived, at least every second, to the
*Lambda's own* ``process_event`` as a Kinesis-shaped batch; lines named in
``batchItemFailures`` stay on the stream and are retried, as Kinesis would.

Kinesis keeps a record it acknowledged for 24 hours; the in-memory stream alone would
lose everything on a crash. So a beacon is answered only once its raw line is in the
``Spool`` (``<data>/spool/``): an append-only file, written and fsync'ed in groups, read
back on the next start, and deleted as soon as the events of its lines are in the
lake. Raw lines hold IPs and user agents: the files are 0600 and live seconds, not days.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import stat
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tracker
from ownstats.lake import fsync_dir
from stream_processor.handler import process_event
from stream_processor.logline import cloudfront_quote, format_line, logged_request
from stream_processor.pipeline import BatchResult, Processor

log = logging.getLogger(__name__)

GIF_HEADERS = {
    # never cached by browsers: every page view must reach the collector
    "Cache-Control": "no-store, max-age=0",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
JS_HEADERS = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


def request_id() -> str:
    """A CloudFront-like x-edge-request-id: 56 URL-safe base64 characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()


def request_target(request: Request) -> str:
    """The request target as the browser sent it (raw path, ``?``, raw query), latin-1."""
    scope = request.scope
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return (raw_path + b"?" + query if query else raw_path).decode("latin-1")


def log_record(request: Request, *, trust_proxy: bool, now: float) -> dict[str, str]:
    """The real-time log record CloudFront would write for ``request``, byte for byte.

    Header and URL strings are latin-1 views of the raw bytes (ASGI), hence the
    encoding passed on: CloudFront encodes bytes, not characters.
    """
    headers = request.headers
    ip = request.client.host if request.client else ""
    country = ""
    if trust_proxy:
        forwarded = headers.get("x-forwarded-for", "")
        if forwarded:
            ip = forwarded.split(",")[0].strip()
        country = headers.get("cloudfront-viewer-country") or headers.get("cf-ipcountry") or ""
    return {
        "timestamp": f"{now:.3f}",
        "c-ip": ip,
        "sc-status": "200",
        "cs-method": request.method,
        "x-edge-location": "",
        "x-edge-request-id": request_id(),
        "x-host-header": cloudfront_quote(headers.get("host", ""), "latin-1"),
        **logged_request(
            request_target(request),
            headers.get("user-agent", ""),
            headers.get("referer", ""),
            encoding="latin-1",
        ),
        "x-edge-result-type": "Hit",
        "c-country": country if len(country) == 2 else "",
        "asn": "",
    }


@dataclass
class Stream:
    """An in-memory Kinesis shard: ordered lines with sequence numbers."""

    lines: deque[tuple[int, str]] = field(default_factory=deque)
    next_sequence: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, line: str) -> None:
        self.put_many([line])

    def put_many(self, lines: list[str]) -> int:
        """Append ``lines`` in order; the sequence number of the first one."""
        with self.lock:
            first = self.next_sequence
            self.lines.extend(enumerate(lines, first))
            self.next_sequence += len(lines)
            return first

    def take(self, limit: int) -> list[tuple[int, str]]:
        with self.lock:
            return [self.lines.popleft() for _ in range(min(limit, len(self.lines)))]

    def put_back(self, items: list[tuple[int, str]]) -> None:
        with self.lock:
            self.lines.extendleft(reversed(items))

    def __len__(self) -> int:
        return len(self.lines)


def spool_dir(data_dir: Path) -> Path:
    """``<data>/spool``: raw lines not yet stored in the lake (beside it, never inside)."""
    return data_dir / "spool"


@dataclass
class _Segment:
    """One spool file: lines ``first``..``last`` of the stream (0, 0 while empty)."""

    path: Path
    first: int = 0
    last: int = 0
    size: int = 0
    opened: float = field(default_factory=time.monotonic)
    fd: int | None = None


class Spool:
    """The durable side of the stream: a beacon is answered once its line is on disk.

    Format: files ``<data>/spool/NNNNNNNNNNNN.spool`` (mode 0600; the directory 0700),
    append-only, one record per line: ``<crc32 of the line, 8 hex digits> <line>\n``.
    A torn or damaged record (a crash in mid-write, a disk that lied) fails its checksum
    and is skipped on replay; it was never acknowledged.

    Group commit: ``append`` queues a line and returns a future; one thread writes
    everything queued since its last commit, fsyncs once (``fdatasync``), puts the lines
    on the stream and then resolves the future of the whole group. Requests arriving
    during an fsync form the next group, so the cost of an fsync is shared by the
    requests waiting for it; ``linger_s`` waits a little longer to gather more.

    Lifetime: a file takes new lines for ``segment_s`` seconds or ``segment_bytes``,
    then the next file starts. ``release(n)`` is called once the events of every line
    up to stream sequence ``n`` are in the lake's Parquet files (or were dropped); it
    deletes the files whose lines are all released, so raw lines with IPs live only
    until they are stored. ``open()`` reads back what a previous run left (a crash, or a
    shutdown that could not write the lake) and puts it on the stream first.
    """

    def __init__(
        self,
        directory: Path,
        stream: Stream,
        *,
        linger_s: float = 0.0,
        segment_s: float = 1.0,
        segment_bytes: int = 16 << 20,
    ) -> None:
        self.directory = directory
        self.stream = stream
        self.linger_s = linger_s
        self.segment_s = segment_s
        self.segment_bytes = segment_bytes
        self.commits = 0  # fsyncs done: requests / commits is the group size
        self._segments: list[_Segment] = []  # oldest first; the last one may be open
        self._released = 0
        self._next_name = 1
        self._io = threading.Lock()  # segments, files
        self._queue = threading.Condition()  # the pending group
        self._pending: list[str] = []
        self._group: Future[None] = Future()
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- start and replay ---------------------------------------------------------------

    def open(self) -> int:
        """Read back what earlier runs left, onto the stream; start the commit thread.

        Returns the number of lines replayed (their events may be partly stored
        already: the caller makes the lake skip event_ids it has).
        """
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        replayed = 0
        for path in sorted(self.directory.glob("*.spool")):
            self._next_name = max(self._next_name, _segment_number(path) + 1)
            if not stat.S_ISREG(path.lstat().st_mode):
                # a named pipe would block the start for good, a link point anywhere:
                # only the spool's own regular files are read
                log.warning("spool: %s is not a regular file; skipped", path)
                continue
            lines, damaged = read_spool_file(path)
            if damaged:
                log.warning("spool: %s: %d damaged records skipped", path, damaged)
            if not lines:
                path.unlink(missing_ok=True)
                continue
            first = self.stream.put_many(lines)
            self._segments.append(
                _Segment(path, first, first + len(lines) - 1, path.stat().st_size)
            )
            replayed += len(lines)
        self._thread = threading.Thread(target=self._commit_loop, name="spool-commit", daemon=True)
        self._thread.start()
        return replayed

    # -- the request path ---------------------------------------------------------------

    def append(self, line: str) -> Future[None]:
        """Queue ``line``; the future resolves once it is on disk (or fails with OSError)."""
        with self._queue:
            if self._closing:
                raise RuntimeError("the spool is closed")
            self._pending.append(line.replace("\n", " "))
            group = self._group
            self._queue.notify()
        return group

    def _commit_loop(self) -> None:
        while True:
            with self._queue:
                while not self._pending and not self._closing:
                    self._queue.wait()
                if not self._pending:
                    return
            if self.linger_s:
                time.sleep(self.linger_s)
            with self._queue:
                lines, group = self._pending, self._group
                self._pending, self._group = [], Future()
            try:
                self._commit(lines)
            except OSError as error:
                group.set_exception(error)
            except BaseException as error:  # never leave a request waiting forever
                group.set_exception(error)
                raise
            else:
                group.set_result(None)

    def _commit(self, lines: list[str]) -> None:
        data = b"".join(_record(line) for line in lines)
        with self._io:
            segment = self._writable()
            assert segment.fd is not None
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(segment.fd, view) :]
                _datasync(segment.fd)
            except OSError:
                # leave no unacknowledged tail behind; the next commit starts a new file
                with contextlib.suppress(OSError):
                    os.ftruncate(segment.fd, segment.size)
                self._close(segment)
                raise
            segment.size += len(data)
            first = self.stream.put_many(lines)
            segment.first = segment.first or first
            segment.last = first + len(lines) - 1
            self.commits += 1

    def _writable(self) -> _Segment:
        """The open segment, or a new one when it is old or large (caller holds _io)."""
        current = self._segments[-1] if self._segments else None
        if current is not None and current.fd is not None:
            young = time.monotonic() - current.opened < self.segment_s
            if os.fstat(current.fd).st_nlink == 0:
                # someone deleted the file (or the whole folder): what is written to it
                # now would be acknowledged but on no disk; start again in a new file
                log.warning("spool: %s was deleted while in use; starting a new file",
                            current.path)
                young = False
            if young and current.size < self.segment_bytes:
                return current
            self._close(current)
        path = self.directory / f"{self._next_name:012d}.spool"
        self._next_name += 1
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:  # the folder itself was removed: make it again
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o600)
        try:
            fsync_dir(self.directory)  # the new file's name is as durable as its lines
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        segment = _Segment(path, fd=fd)
        self._segments.append(segment)
        return segment

    def _close(self, segment: _Segment) -> None:
        if segment.fd is not None:
            os.close(segment.fd)
            segment.fd = None
        if not segment.last:  # nothing acknowledged in it
            segment.path.unlink(missing_ok=True)
            self._segments.remove(segment)

    # -- once stored ----------------------------------------------------------------------

    def release(self, through: int) -> int:
        """Lines up to stream sequence ``through`` are stored: delete the files holding
        only such lines; the number of files deleted."""
        deleted = 0
        with self._io:
            self._released = max(self._released, through)
            for segment in list(self._segments):
                if segment.last and segment.last <= self._released:
                    if segment.fd is not None:
                        os.close(segment.fd)
                        segment.fd = None
                    segment.path.unlink(missing_ok=True)
                    self._segments.remove(segment)
                    deleted += 1
        return deleted

    @property
    def unreleased(self) -> int:
        """Lines on disk whose events are not known to be stored yet."""
        with self._io:
            return sum(
                s.last - max(s.first - 1, self._released)
                for s in self._segments
                if s.last > self._released
            )

    def close(self) -> None:
        """Commit what is queued, stop the commit thread, close the file. Files holding
        unreleased lines stay for the next start."""
        with self._queue:
            self._closing = True
            self._queue.notify()
        if self._thread is not None:
            self._thread.join()
        with self._io:
            for segment in list(self._segments):
                self._close(segment)


def _segment_number(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 0


def _record(line: str) -> bytes:
    data = line.encode("utf-8", "surrogateescape")
    return b"%08x %s\n" % (zlib.crc32(data), data)


def read_spool_file(path: Path) -> tuple[list[str], int]:
    """The lines of one spool file, and how many damaged records were skipped."""
    lines: list[str] = []
    damaged = 0
    data = path.read_bytes()
    records = data.split(b"\n")
    if records and records[-1] == b"":
        records.pop()
    elif records:
        records.pop()  # a record without its newline was cut off in mid-write
        damaged += 1
    for record in records:
        crc, _, line = record.partition(b" ")
        try:
            good = len(crc) == 8 and int(crc, 16) == zlib.crc32(line)
        except ValueError:
            good = False
        if good:
            lines.append(line.decode("utf-8", "surrogateescape"))
        else:
            damaged += 1
    return lines, damaged


_datasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def kinesis_event(items: list[tuple[int, str]]) -> dict[str, Any]:
    """The event Lambda's Kinesis event source would deliver for these lines."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "local",
                    "sequenceNumber": str(sequence),
                    "data": base64.b64encode((line + "\n").encode()).decode(),
                    "approximateArrivalTimestamp": time.time(),
                },
                "eventSource": "aws:kinesis",
                "eventName": "aws:kinesis:record",
            }
            for sequence, line in items
        ]
    }


class Pump:
    """Moves the stream into the processor at least every ``interval_s`` seconds.

    ``processed_through`` is the sequence number up to which every line went through
    the processor (stored in the sink's buffer, or dropped); ``on_progress`` is called
    with it whenever it moves, from the pump's thread, after the lines were processed.
    """

    def __init__(
        self,
        stream: Stream,
        processor: Processor,
        *,
        interval_s: float = 0.5,
        batch_size: int = 1000,
        on_result: Callable[[BatchResult], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.stream = stream
        self.processor = processor
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.on_result = on_result
        self.on_progress = on_progress
        self.processed_through = 0
        self.totals = BatchResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kinesis-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def drain(self) -> int:
        """Process everything on the stream now; the number of lines left for retry."""
        before = self.processed_through
        try:
            return self._drain()
        finally:
            if self.on_progress and self.processed_through > before:
                self.on_progress(self.processed_through)

    def _drain(self) -> int:
        while True:
            items = self.stream.take(self.batch_size)
            if not items:
                return 0
            try:
                response, result = process_event(kinesis_event(items), self.processor)
            except BaseException:
                self.stream.put_back(items)  # nothing taken is lost; the next tick retries
                raise
            self.totals.merge(result)
            if self.on_result:
                self.on_result(result)
            failures = response["batchItemFailures"]
            if failures:
                # Kinesis semantics: resume from the lowest failed sequence number
                lowest = min(int(f["itemIdentifier"]) for f in failures)
                retry = [item for item in items if item[0] >= lowest]
                self.stream.put_back(retry)
                self.processed_through = max(self.processed_through, lowest - 1)
                return len(retry)
            self.processed_through = items[-1][0]

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.drain()
            except Exception:  # keep collecting; the next tick retries
                log.exception("processing a batch failed; retrying on the next tick")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.drain()


def routes(stream: Stream, *, trust_proxy: bool, spool: Spool | None = None) -> list[Route]:
    """``/hello.js`` and ``/hello.gif``, as the CloudFront distribution serves them.

    With a ``spool``, ``/hello.gif`` answers 200 only once its line is on disk, and 503
    when it cannot be written (a full disk): a beacon answered 200 is never lost.
    """
    js, gif = tracker.tracker_js(), tracker.tracker_gif()
    # one asyncio view of each group commit, shared by the requests waiting for it
    waiting: dict[str, Any] = {"group": None, "loop": None, "future": None}

    async def hello_js(request: Request) -> Response:
        return Response(js, media_type=tracker.JS_CONTENT_TYPE, headers=JS_HEADERS)

    async def hello_gif(request: Request) -> Response:
        # like the pixel of every analytics service: always answer, judge later
        line = format_line(log_record(request, trust_proxy=trust_proxy, now=time.time()))
        if spool is None:
            stream.put(line)
        else:
            group, loop = spool.append(line), asyncio.get_running_loop()
            if waiting["group"] is not group or waiting["loop"] is not loop:
                waiting.update(group=group, loop=loop, future=asyncio.wrap_future(group))
            try:
                await asyncio.shield(waiting["future"])
            except OSError as error:
                log.error("spool: cannot write %s: %s; beacons are refused", spool.directory, error)
                return Response(
                    b"not stored: the collector cannot write its spool\n",
                    status_code=503,
                    media_type="text/plain",
                    headers={"Cache-Control": "no-store", "Retry-After": "10"},
                )
        return Response(gif, media_type=tracker.GIF_CONTENT_TYPE, headers=GIF_HEADERS)

    return [
        Route("/hello.js", hello_js, methods=["GET", "HEAD"]),
        Route("/hello.gif", hello_gif, methods=["GET", "HEAD"]),
    ]

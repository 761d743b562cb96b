"""Local mode's stand-in for CloudFront and Kinesis: serve the tracker, log each beacon.

For every ``/hello.gif`` request the collector writes the record CloudFront's
real-time log would carry, byte for byte (the same field list, the query inside
``cs-uri-stem``, CloudFront's extra URL-encoding: ``stream_processor.logline``) onto
an in-memory stream. A pump thread hands what arrived, at least every second, to the
*Lambda's own* ``process_event`` as a Kinesis-shaped batch; lines named in
``batchItemFailures`` stay on the stream and are retried, as Kinesis would. Raw lines
(with IPs) live only in memory, never on disk.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tracker
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
        with self.lock:
            self.lines.append((self.next_sequence, line))
            self.next_sequence += 1

    def take(self, limit: int) -> list[tuple[int, str]]:
        with self.lock:
            return [self.lines.popleft() for _ in range(min(limit, len(self.lines)))]

    def put_back(self, items: list[tuple[int, str]]) -> None:
        with self.lock:
            self.lines.extendleft(reversed(items))

    def __len__(self) -> int:
        return len(self.lines)


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
    """Moves the stream into the processor at least every ``interval_s`` seconds."""

    def __init__(
        self,
        stream: Stream,
        processor: Processor,
        *,
        interval_s: float = 0.5,
        batch_size: int = 1000,
        on_result: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self.stream = stream
        self.processor = processor
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.on_result = on_result
        self.totals = BatchResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kinesis-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def drain(self) -> int:
        """Process everything on the stream now; the number of lines left for retry."""
        while True:
            items = self.stream.take(self.batch_size)
            if not items:
                return 0
            response, result = process_event(kinesis_event(items), self.processor)
            self.totals.merge(result)
            if self.on_result:
                self.on_result(result)
            failures = response["batchItemFailures"]
            if failures:
                # Kinesis semantics: resume from the lowest failed sequence number
                lowest = min(int(f["itemIdentifier"]) for f in failures)
                retry = [item for item in items if item[0] >= lowest]
                self.stream.put_back(retry)
                return len(retry)

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


def routes(stream: Stream, *, trust_proxy: bool) -> list[Route]:
    """``/hello.js`` and ``/hello.gif``, as the CloudFront distribution serves them."""
    js, gif = tracker.tracker_js(), tracker.tracker_gif()

    async def hello_js(request: Request) -> Response:
        return Response(js, media_type=tracker.JS_CONTENT_TYPE, headers=JS_HEADERS)

    async def hello_gif(request: Request) -> Response:
        # like the pixel of every analytics service: always answer, judge later
        stream.put(format_line(log_record(request, trust_proxy=trust_proxy, now=time.time())))
        return Response(gif, media_type=tracker.GIF_CONTENT_TYPE, headers=GIF_HEADERS)

    return [
        Route("/hello.js", hello_js, methods=["GET", "HEAD"]),
        Route("/hello.gif", hello_gif, methods=["GET", "HEAD"]),
    ]

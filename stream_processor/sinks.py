"""The last step of the pipeline: deliver accepted events somewhere durable.

A sink takes a batch of events and answers which of them it could NOT store after
its own retries; the processor maps those back to Kinesis sequence numbers so
Lambda retries them (partial batch response). Nothing accepted is silently lost.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = dict[str, Any]

MAX_BATCH_RECORDS = 500  # PutRecordBatch limits
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024


class Sink(Protocol):
    def put(self, events: Sequence[Event]) -> list[int]:
        """Store events; return the indexes of those that could not be stored."""
        ...


def encode(event: Event) -> bytes:
    """One JSON line, as Firehose's JSON → Parquet conversion expects it."""
    return (json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


class MemorySink:
    """Tests and benchmarks: keeps what it is given, can be told to fail."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fail_all = False

    def put(self, events: Sequence[Event]) -> list[int]:
        if self.fail_all:
            return list(range(len(events)))
        self.events.extend(events)
        return []


class FirehoseSink:
    """PutRecordBatch in chunks of ≤ 500 records and ≤ 4 MiB.

    Only the entries Firehose reports as failed are sent again, with exponential
    backoff and full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/),
    so a successful invocation never sends a record twice.
    """

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        attempts: int = 5,
        base_delay_s: float = 0.1,
        max_delay_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.sleep = sleep

    def put(self, events: Sequence[Event]) -> list[int]:
        payloads = [encode(e) for e in events]
        failed: list[int] = []
        for chunk in self._chunks(payloads):
            failed.extend(self._deliver(chunk, payloads))
        return failed

    @staticmethod
    def _chunks(payloads: list[bytes]) -> list[list[int]]:
        chunks: list[list[int]] = []
        current: list[int] = []
        size = 0
        for i, data in enumerate(payloads):
            if current and (
                len(current) == MAX_BATCH_RECORDS or size + len(data) > MAX_BATCH_BYTES
            ):
                chunks.append(current)
                current, size = [], 0
            current.append(i)
            size += len(data)
        if current:
            chunks.append(current)
        return chunks

    def _deliver(self, pending: list[int], payloads: list[bytes]) -> list[int]:
        """Send ``pending`` indexes; answer those still undelivered after all attempts."""
        for attempt in range(self.attempts):
            if attempt:
                cap = min(self.max_delay_s, self.base_delay_s * 2**attempt)
                self.sleep(random.uniform(0, cap))
            try:
                response = self.client.put_record_batch(
                    DeliveryStreamName=self.stream_name,
                    Records=[{"Data": payloads[i]} for i in pending],
                )
            except Exception as error:  # throttling, 5xx, network: retry the whole chunk
                log.warning("firehose put_record_batch failed (attempt %d): %s", attempt + 1, error)
                continue
            if not response.get("FailedPutCount"):
                return []
            results = response["RequestResponses"]
            codes = {r.get("ErrorCode") for r in results if r.get("ErrorCode")}
            log.warning(
                "firehose rejected %d of %d records (attempt %d): %s",
                response["FailedPutCount"],
                len(pending),
                attempt + 1,
                sorted(codes),
            )
            pending = [i for i, r in zip(pending, results, strict=True) if r.get("ErrorCode")]
        return pending

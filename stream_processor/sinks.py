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

from .text import storable_event

log = logging.getLogger(__name__)

Event = dict[str, Any]

MAX_BATCH_RECORDS = 500  # PutRecordBatch limits
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024
# Firehose bills ingestion per record rounded up to 5 KB, so events travel packed as
# JSON lines into records of at most this size (one ~700 B event alone would be billed
# 5 KB); the delivery stream's RecordDeAggregation (JSON) splits them again, at most
# 500 per record: https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-multirecord-deaggergation.html
PACK_BYTES = 5 * 1000
MAX_EVENTS_PER_RECORD = 500


class Sink(Protocol):
    def put(self, events: Sequence[Event]) -> list[int]:
        """Store events; return the indexes of those that could not be stored."""
        ...


def encode(event: Event) -> bytes:
    """One JSON line, as Firehose's JSON → Parquet conversion expects it (UTF-8).

    The pipeline already made every string storable; a string that still cannot be
    UTF-8 is replaced here rather than failing the batch it travels in.
    """
    line = json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n"
    try:
        return line.encode()
    except UnicodeEncodeError:
        cleaned = storable_event(dict(event))
        return (json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


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


def group(payloads: Sequence[bytes], max_count: int, max_bytes: int) -> list[list[int]]:
    """Consecutive indexes in groups of at most ``max_count`` items and ``max_bytes``.

    An item larger than ``max_bytes`` forms a group alone; order is kept. Used twice:
    events into Firehose records, records into PutRecordBatch calls.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, data in enumerate(payloads):
        if current and (len(current) == max_count or size + len(data) > max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(i)
        size += len(data)
    if current:
        groups.append(current)
    return groups


def pack(payloads: Sequence[bytes], limit: int = PACK_BYTES) -> list[list[int]]:
    """Consecutive events grouped into Firehose records of at most ``limit`` bytes."""
    return group(payloads, MAX_EVENTS_PER_RECORD, limit)


class FirehoseSink:
    """PutRecordBatch in chunks of ≤ 500 records and ≤ 4 MiB, events packed per record.

    Only the entries Firehose reports as failed are sent again, with exponential
    backoff and full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/),
    so a successful invocation never sends a record twice. A record that still fails
    reports every event packed into it.
    """

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        attempts: int = 5,
        base_delay_s: float = 0.1,
        max_delay_s: float = 2.0,
        pack_bytes: int = PACK_BYTES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.pack_bytes = pack_bytes
        self.sleep = sleep

    def put(self, events: Sequence[Event]) -> list[int]:
        encoded = [encode(e) for e in events]
        packs = pack(encoded, self.pack_bytes)
        payloads = [b"".join(encoded[i] for i in members) for members in packs]
        failed: list[int] = []
        for chunk in group(payloads, MAX_BATCH_RECORDS, MAX_BATCH_BYTES):
            for record in self._deliver(chunk, payloads):
                failed.extend(packs[record])
        return failed

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

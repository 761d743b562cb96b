"""`ownstats replay-errors`: send the records Firehose could not convert or partition
again, once their cause is fixed.

Firehose writes such a record to the lake bucket's ``errors/<error-output-type>/<day>/``
as one JSON document per line, documented in "Handling errors for data format
conversion" (Amazon Data Firehose developer guide): ``attemptsMade``,
``arrivalTimestamp``, ``ErrorCode``, ``ErrorMessage``, ``attemptEndingTimestamp``,
``rawData`` (base64 of the record as it was sent), ``sequenceNumber``, … The record is
what the processor sent: JSON lines of events (``stream_processor.sinks.encode``). A
schema mismatch would otherwise empty the lake silently and for good; here the events
are decoded, checked against the events schema, and re-sent through the same
``FirehoseSink`` the processor uses. Events are never changed: a record that still
does not fit fails again, and stays. Dry run by default; ``--apply`` sends, then moves
each fully re-sent object to ``errors-replayed/`` (same key below it), so a second run
sends nothing twice. Events hold no IP, user agent or query string, so neither do
these objects or this command's output.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lake_compactor import ERRORS_PREFIX
from stream_processor.schema import ALL_COLUMN_NAMES
from stream_processor.sinks import FirehoseSink

REPLAYED_PREFIX = "errors-replayed/"
_COLUMNS = frozenset(ALL_COLUMN_NAMES)


@dataclass
class ReplayReport:
    """What a run found and did, per error type (the folder below ``errors/``)."""

    objects: int = 0
    records: int = 0
    events: int = 0
    sent: int = 0
    failed: int = 0
    moved: int = 0
    #: error type → records; ErrorCode → records
    by_type: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)
    #: records that hold no event of ours (not JSON lines of the events schema)
    unreadable: int = 0


def events_of(document: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The events in one Firehose error document's ``rawData``, or None if it holds
    anything but JSON lines of the events schema."""
    try:
        raw = base64.b64decode(document["rawData"], validate=True).decode("utf-8")
    except (KeyError, TypeError, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    events = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if not isinstance(event, dict) or not event.get("event_id") or set(event) - _COLUMNS:
            return None
        events.append(event)
    return events or None


def replay(
    s3: Any, bucket: str, sink: FirehoseSink | None, *, prefix: str = ERRORS_PREFIX
) -> ReplayReport:
    """Read every error object under ``prefix``; with a ``sink``, re-send and move them."""
    report = ReplayReport()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            error_type = key[len(prefix) :].split("/", 1)[0] or "?"
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
            report.objects += 1
            events: list[dict[str, Any]] = []
            whole = True
            for line in body.splitlines():
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                except ValueError:
                    document = {}
                report.records += 1
                report.by_type[error_type] += 1
                report.by_code[str(document.get("ErrorCode", "?"))[:80]] += 1
                found = events_of(document) if isinstance(document, dict) else None
                if found is None:
                    report.unreadable += 1
                    whole = False
                    continue
                events += found
            report.events += len(events)
            if sink is None or not events:
                continue
            failed = sink.put(events)
            report.sent += len(events) - len(failed)
            report.failed += len(failed)
            if not failed and whole:
                s3.copy_object(
                    Bucket=bucket,
                    Key=REPLAYED_PREFIX + key[len(prefix) :],
                    CopySource={"Bucket": bucket, "Key": key},
                )
                s3.delete_object(Bucket=bucket, Key=key)
                report.moved += 1
    return report

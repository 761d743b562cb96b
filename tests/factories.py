"""Factories for realistic CloudFront real-time log records and Kinesis events.

Imported by tests (``from factories import make_line``): ``tests/`` is on pytest's pythonpath.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any
from urllib.parse import quote, urlencode

from stream_processor.logline import format_line

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IP = "203.0.113.77"
_ids = itertools.count(1)


def beacon_query(**params: str) -> str:
    base = {"v": "1", "t": "pv", "u": "https://example.com/pricing", "id": "pv1"}
    base.update(params)
    return urlencode({k: v for k, v in base.items() if v is not None}, quote_via=quote)


def log_record(query: str | None = None, **fields: str) -> dict[str, str]:
    record = {
        "timestamp": "1732800000.123",
        "c-ip": IP,
        "sc-status": "200",
        "cs-method": "GET",
        "cs-uri-stem": "/hello.gif",
        "x-edge-location": "FRA56-P4",
        "x-edge-request-id": f"req-{next(_ids)}",
        "x-host-header": "d111111abcdef8.cloudfront.net",
        "cs-user-agent": quote(CHROME, safe=""),
        "cs-referer": "https://example.com/",
        "cs-uri-query": beacon_query() if query is None else query,
        "x-edge-result-type": "Hit",
        "c-country": "DE",
        "asn": "3320",
    }
    record.update({k.replace("_", "-"): v for k, v in fields.items()})
    return record


def make_line(query: str | None = None, **fields: str) -> str:
    """A real-time log line; keyword fields use ``_`` for ``-`` (c_ip=…)."""
    return format_line(log_record(query, **fields))


def kinesis_record(data: bytes, sequence: str) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "pk",
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": 1732800000.5,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/ownstats",
    }


def kinesis_event(lines: list[str], *, newline: bool = True, start: int = 100) -> dict[str, Any]:
    """One Kinesis record per line, as CloudFront writes them (each ends in a newline)."""
    end = "\n" if newline else ""
    return {
        "Records": [
            kinesis_record((line + end).encode(), str(start + i)) for i, line in enumerate(lines)
        ]
    }

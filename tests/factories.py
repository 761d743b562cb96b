"""Factories for realistic CloudFront real-time log records and Kinesis events.

Imported by tests (``from factories import make_line``): ``tests/`` is on pytest's pythonpath.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from stream_processor.fields import FIELD_INDEX
from stream_processor.logline import cloudfront_quote, format_line

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IP = "203.0.113.77"
_ids = itertools.count(1)


def beacon_query(**params: str) -> str:
    """A beacon query string as hello.js sends it (URLSearchParams: form encoding)."""
    base = {"v": "1", "t": "pv", "u": "https://example.com/pricing", "id": "pv1"}
    base.update(params)
    return urlencode({k: v for k, v in base.items() if v is not None})


#: how a line's request fields are encoded: what CloudFront writes (the default),
#: the query as the browser sent it, and CloudFront's 2013 variant (a ``%`` already
#: followed by ``25`` left alone)
ENCODINGS = ("cloudfront", "single", "2013")


def logged_query(query: str, encoding: str) -> str:
    if encoding == "cloudfront":
        return cloudfront_quote(query)
    if encoding == "single":
        return query
    if encoding == "2013":
        return re.sub(r"%(?!25)", "%25", query)
    raise ValueError(f"unknown encoding {encoding!r}")


def log_record(
    query: str | None = None,
    *,
    encoding: str = "cloudfront",
    path: str = "/hello.gif",
    user_agent: str = CHROME,
    **fields: str,
) -> dict[str, str]:
    """A real-time log record in CloudFront's shape: the query inside ``cs-uri-stem``,
    every value URL-encoded once more (``stream_processor.logline.logged_request``)."""
    query = beacon_query() if query is None else query
    logged = logged_query(query, encoding)
    record = {
        "timestamp": "1732800000.123",
        "c-ip": IP,
        "sc-status": "200",
        "cs-method": "GET",
        "cs-uri-stem": f"{path}?{logged}" if logged else path,
        "x-edge-location": "FRA56-P4",
        "x-edge-request-id": f"req-{next(_ids)}",
        "x-host-header": "d111111abcdef8.cloudfront.net",
        "cs-user-agent": cloudfront_quote(user_agent),
        "cs-referer": "https://example.com/",
        "cs-uri-query": logged,
        "x-edge-result-type": "Hit",
        "c-country": "DE",
        "asn": "3320",
    }
    record.update({k.replace("_", "-"): v for k, v in fields.items()})
    return record


def make_line(query: str | None = None, **fields: str) -> str:
    """A real-time log line; keyword fields use ``_`` for ``-`` (c_ip=…), see log_record."""
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


FIXTURES = Path(__file__).parent / "fixtures"


def fixture_lines(name: str) -> list[str]:
    """The records of a fixture file under tests/fixtures/, its ``#`` comment lines dropped."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def reencode_request(line: str, encoding: str) -> str:
    """``line`` (CloudFront's shape) with its query as another encoding would log it.

    The fixture's queries carry CloudFront's layer only as ``%`` → ``%25`` (hello.js
    form-encodes everything else), so the browser's query is that layer undone.
    """
    values = line.split("\t")
    stem, query = FIELD_INDEX["cs-uri-stem"], FIELD_INDEX["cs-uri-query"]
    path, _, logged = values[stem].partition("?")
    sent = logged_query(logged.replace("%25", "%"), encoding)
    values[stem] = f"{path}?{sent}" if logged else path
    values[query] = sent if values[query] != "-" else "-"
    return "\t".join(values)


def emf_value(metric: Any) -> float:
    """An EMF metric value (powertools writes a list when a metric repeats)."""
    return metric[0] if isinstance(metric, list) else metric


def stored_rows(s3: Any) -> list[dict[str, Any]]:
    rows = []
    for obj in s3.list_objects_v2(Bucket="lake").get("Contents", []):
        body = s3.get_object(Bucket="lake", Key=obj["Key"])["Body"].read().decode()
        rows += [json.loads(line) for line in body.splitlines() if line]
    return rows


#: the 33 fields of today's standard log, in the developer guide's order: the #Fields
#: line of the fixture made from the guide (tests/fixtures/cloudfront/README)
STANDARD_FIELDS = tuple(
    (FIXTURES / "cloudfront" / "standard-log.tsv").read_text().splitlines()[1].split()[1:]
)


def standard_log_text(records: list[dict[str, str]]) -> str:
    """Real-time records (``traffic.Hit.record()``) as CloudFront writes the same requests
    to a standard log, by the rules of tests/fixtures/cloudfront/README (standard-log.tsv):
    the time cut to the second, the path alone in cs-uri-stem, values copied with their
    encoding, no c-country or asn; what a real-time record lacks made up but plausible."""
    from datetime import UTC, datetime

    lines = ["#Version: 1.0", "#Fields: " + " ".join(STANDARD_FIELDS)]
    for record in records:
        moment = datetime.fromtimestamp(float(record["timestamp"]), UTC)
        path = record["cs-uri-stem"].partition("?")[0]
        values = {
            "date": moment.strftime("%Y-%m-%d"), "time": moment.strftime("%H:%M:%S"),
            "x-edge-location": record["x-edge-location"], "sc-bytes": "402",
            "c-ip": record["c-ip"], "cs-method": record["cs-method"],
            "cs(Host)": "d111111abcdef8.cloudfront.net", "cs-uri-stem": path,
            "sc-status": record["sc-status"], "cs(Referer)": record["cs-referer"] or "-",
            "cs(User-Agent)": record["cs-user-agent"] or "-",
            "cs-uri-query": record["cs-uri-query"] or "-", "cs(Cookie)": "-",
            "x-edge-result-type": record["x-edge-result-type"],
            "x-edge-request-id": record["x-edge-request-id"],
            "x-host-header": record["x-host-header"], "cs-protocol": "https",
            "cs-bytes": "240", "time-taken": "0.001", "x-forwarded-for": "-",
            "ssl-protocol": "TLSv1.3", "ssl-cipher": "TLS_AES_128_GCM_SHA256",
            "x-edge-response-result-type": record["x-edge-result-type"],
            "cs-protocol-version": "HTTP/2.0", "fle-status": "-", "fle-encrypted-fields": "-",
            "c-port": "443", "time-to-first-byte": "0.001",
            "x-edge-detailed-result-type": record["x-edge-result-type"],
            "sc-content-type": "image/gif", "sc-content-len": "35", "sc-range-start": "-",
            "sc-range-end": "-",
        }  # fmt: skip
        lines.append("\t".join(values[name] for name in STANDARD_FIELDS))
    return "\n".join(lines) + "\n"

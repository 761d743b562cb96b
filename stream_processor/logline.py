"""Step one of the pipeline: a CloudFront real-time log line into its named fields.

The line is mapped by position onto ``REALTIME_LOG_FIELDS``. The field count is never
trusted: a short line is malformed, extra trailing fields (a config that grew) are
ignored, so adding a field at the end of the list never breaks older processors.

This module is also the one description of how CloudFront *writes* a value, which
local mode, the traffic generator and the tests use to produce byte-identical lines
(docs/PROTOCOL.md, "The real-time log record"):

- ``cs-uri-stem`` is the whole request target, path **and** query string
  (``/hello.gif?v=1&t=pv&…``); only standard logs drop the query.
- Every value is URL-encoded once more by CloudFront: ASCII 0-32, 127 and above, and
  ``< > " # % { } | \\ ^ ~ [ ] ` '`` become ``%XX`` (CloudFront developer guide,
  "Standard log file format", which real-time logs share). A browser's
  ``u=https%3A%2F%2Fexample.com%2F`` therefore arrives as ``u=https%253A%252F%252F…``
  and a user agent's spaces as ``%20``. Real records from a 2022/2023 deployment of
  the original ownstats show exactly this (tests/fixtures/cloudfront/).
"""

from __future__ import annotations

import re

from .fields import EMPTY, FIELD_INDEX, REALTIME_LOG_FIELDS

N_FIELDS = len(REALTIME_LOG_FIELDS)
I_TIMESTAMP = FIELD_INDEX["timestamp"]
I_IP = FIELD_INDEX["c-ip"]
I_STATUS = FIELD_INDEX["sc-status"]
I_METHOD = FIELD_INDEX["cs-method"]
I_STEM = FIELD_INDEX["cs-uri-stem"]
I_EDGE = FIELD_INDEX["x-edge-location"]
I_REQUEST_ID = FIELD_INDEX["x-edge-request-id"]
I_USER_AGENT = FIELD_INDEX["cs-user-agent"]
I_QUERY = FIELD_INDEX["cs-uri-query"]
I_COUNTRY = FIELD_INDEX["c-country"]

#: the printable characters CloudFront URL-encodes in log values (besides 0-32, 127+)
CLOUDFRONT_ENCODES = frozenset("<>\"#%{}|\\^~[]`' ")
_ENCODED_BYTES = (
    frozenset(range(33)) | frozenset(range(127, 256)) | {ord(c) for c in CLOUDFRONT_ENCODES}
)
_QUOTE_TABLE = [f"%{b:02X}" if b in _ENCODED_BYTES else chr(b) for b in range(256)]


def _foreign_escape() -> re.Pattern[str]:
    """``%XX`` escapes CloudFront never writes (printable ASCII it leaves alone), as
    one character class per first hex digit: a query holding one was not logged by
    CloudFront."""
    classes = []
    for high in range(2, 8):
        kept = [b for b in range(high * 16, high * 16 + 16) if b not in _ENCODED_BYTES]
        digits = "".join(f"{b % 16:X}" for b in kept)
        classes.append(f"{high}[{digits}]")
    return re.compile("%(?:" + "|".join(classes) + ")", re.IGNORECASE)


_FOREIGN_ESCAPE = _foreign_escape()


def split_line(line: str) -> list[str] | None:
    """The line's values with ``-`` turned into ``""``; None when fields are missing.

    A beacon's record seldom has an empty field, so the list is rebuilt only when the
    C-level ``in`` finds one (every record passes here).
    """
    values = line.rstrip("\r\n").split("\t")
    if len(values) < N_FIELDS:
        return None
    if len(values) > N_FIELDS:
        del values[N_FIELDS:]
    if EMPTY in values:
        return ["" if v == EMPTY else v for v in values]
    return values


def format_line(record: dict[str, str]) -> str:
    """The line for ``record`` (values already as CloudFront logs them: ``logged_request``)."""
    return "\t".join((record.get(name) or EMPTY).replace("\t", " ") for name in REALTIME_LOG_FIELDS)


def cloudfront_quote(value: str, encoding: str = "utf-8") -> str:
    """``value`` URL-encoded the way CloudFront writes it into a log record.

    ``encoding`` is how ``value`` maps to the bytes on the wire: ``latin-1`` for
    strings an ASGI server decoded from raw header or URL bytes, UTF-8 otherwise.
    """
    return "".join([_QUOTE_TABLE[b] for b in value.encode(encoding, "replace")])


def logged_request(
    target: str, user_agent: str, referer: str = "", *, encoding: str = "utf-8"
) -> dict[str, str]:
    """The request fields of a real-time log record, exactly as CloudFront writes them.

    ``target`` is the request target as the browser sent it (path, ``?``, query).
    """
    _path, has_query, query = target.partition("?")
    return {
        "cs-uri-stem": cloudfront_quote(target, encoding),
        "cs-uri-query": cloudfront_quote(query, encoding) if has_query and query else "",
        "cs-user-agent": cloudfront_quote(user_agent, encoding),
        "cs-referer": cloudfront_quote(referer, encoding),
    }


def request_path(stem: str) -> str:
    """The path of ``cs-uri-stem``, which in real-time logs carries the query too."""
    return stem.partition("?")[0]


def request_query(stem: str, query_field: str) -> str:
    """The query string as the browser sent it, from a logged stem and ``cs-uri-query``.

    CloudFront's extra layer is undone by turning each ``%25`` back into ``%``
    (Snowplow's decoding of the same quirk; it also reads the weeks of 2013 when
    CloudFront left an existing ``%25`` alone). A query holding an escape CloudFront
    never writes (``%3A``, ``%2F``, ``%26`` …) was logged as the browser sent it
    (single-encoded: another proxy, a hand-made line) and is kept as is. Either way
    the result is then decoded exactly once, by the beacon parser.
    """
    query = query_field or stem.partition("?")[2]
    if "%25" not in query or _FOREIGN_ESCAPE.search(query):
        return query
    # every "%25" back to "%": where no hex pair follows, the beacon parser keeps the
    # lone "%" as it would have kept "%25"'s decoding, so no look-ahead is needed
    return query.replace("%25", "%")


def parse_timestamp_ms(value: str) -> int | None:
    """``1732800000.123`` (seconds, ms precision) into epoch milliseconds."""
    try:
        ms = round(float(value) * 1000)
    except (ValueError, OverflowError):  # nan, inf, garbage
        return None
    # 2000-01-01 .. 2100-01-01: anything else is a corrupt line, not an event
    if not 946_684_800_000 <= ms < 4_102_444_800_000:
        return None
    return ms

"""Step one of the pipeline: a CloudFront real-time log line into its named fields.

The line is mapped by position onto ``REALTIME_LOG_FIELDS``. The field count is never
trusted: a short line is malformed, extra trailing fields (a config that grew) are
ignored, so adding a field at the end of the list never breaks older processors.
"""

from __future__ import annotations

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


def split_line(line: str) -> list[str] | None:
    """The line's values with ``-`` turned into ``""``; None when fields are missing."""
    values = line.rstrip("\r\n").split("\t")
    if len(values) < N_FIELDS:
        return None
    return ["" if v == EMPTY else v for v in values[:N_FIELDS]]


def format_line(record: dict[str, str]) -> str:
    """The line CloudFront would write for ``record`` (local mode and tests)."""
    return "\t".join((record.get(name) or EMPTY).replace("\t", " ") for name in REALTIME_LOG_FIELDS)


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

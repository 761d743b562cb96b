"""The closed set of reasons a log record is dropped, and their counter.

A drop is a result, not an exception: every record either becomes an event or is
counted under exactly one of these reasons. The counts become CloudWatch metrics in
the Lambda and the ``ingest`` summary locally. "Dropped" (permanent, acknowledged)
is kept apart from "failed" (delivery trouble, reported back to Kinesis for retry).
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

#: "1": one EventsRejected metric per reason (CloudWatch bills $0.30/month for each);
#: "0": none, the per-reason counts stay in each batch's log line. The CDK app sets it
#: from ``-c reason_metrics``; unset means "1".
REASON_METRICS_ENV = "OWNSTATS_REASON_METRICS"


class Reason(StrEnum):
    NOT_BEACON = "not_beacon"  # any request that is not GET /hello.gif (hello.js, favicon, HEAD …)
    MALFORMED = "malformed"  # undecodable record, bad timestamp, broken beacon parameters
    UNSUPPORTED_VERSION = "unsupported_version"  # a beacon protocol other than v=1
    TOO_LARGE = "too_large"  # beyond the hard limits on query, URL or props
    FOREIGN_DOMAIN = "foreign_domain"  # page hostname not on the allow-list
    BOT = "bot"  # crawler, headless browser or HTTP client
    DUPLICATE = "duplicate"  # the same x-edge-request-id twice in one batch


class Rejections(Counter[Reason]):
    """Counts per reason, plus one safe example per reason for the sampled log line."""

    def __init__(self) -> None:
        super().__init__()
        self.examples: dict[Reason, str] = {}

    def add(self, reason: Reason, detail: str) -> None:
        self[reason] += 1
        if reason not in self.examples:
            # details never carry an IP, a user agent or a query string
            self.examples[reason] = detail[:200]

    def as_dict(self) -> dict[str, int]:
        return {reason.value: count for reason, count in sorted(self.items()) if count}

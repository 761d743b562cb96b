"""The CloudFront real-time log fields ownstats asks for: the one definition.

CloudFront delivers the selected fields in the order of its documentation's field
list, whatever order the config names them in, so this tuple is kept in that order.
The CDK app passes it to ``AWS::CloudFront::RealtimeLogConfig``; the parser maps
values by position; local mode writes its log lines with it.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/real-time-logs.html#understand-real-time-log-config-fields
"""

from __future__ import annotations

REALTIME_LOG_FIELDS: tuple[str, ...] = (
    "timestamp",  # epoch seconds with millisecond precision, e.g. 1732800000.123
    "c-ip",  # viewer IP: used only inside the processor for the visitor hash
    "sc-status",
    "cs-method",
    "cs-uri-stem",
    "x-edge-location",  # e.g. FRA56-P4: IATA airport code + number
    "x-edge-request-id",  # unique per request: the event id and dedupe key
    "x-host-header",
    "cs-user-agent",  # URL-encoded
    "cs-referer",
    "cs-uri-query",  # the beacon's query string, without '?'
    "x-edge-result-type",
    "c-country",  # ISO-3166 alpha-2 from CloudFront's geo lookup
    "asn",
)

#: position of each field in a record
FIELD_INDEX: dict[str, int] = {name: i for i, name in enumerate(REALTIME_LOG_FIELDS)}

#: CloudFront writes this for an empty value
EMPTY = "-"

"""The ``events`` table schema: the one definition.

Types are written in Glue/Hive notation because that is the strictest consumer
(Firehose's Parquet conversion reads the Glue table). The CDK app builds the Glue
table from ``EVENT_COLUMNS`` and ``PARTITION_KEYS``; local mode derives the pyarrow
schema and DuckDB casts from it; the processor emits exactly these keys.
"""

from __future__ import annotations

from typing import Final

#: (column, Glue type, comment) in table order; ``event_date`` is the partition key
EVENT_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("event_id", "string", "64-bit hash of x-edge-request-id, hex; dedupe key"),
    ("event_time", "timestamp", "edge timestamp, UTC, millisecond precision"),
    ("event_type", "string", "pageview | event | engagement"),
    ("event_name", "string", "custom event name; null for page views"),
    ("props", "map<string,string>", "custom event properties"),
    ("domain_name", "string", "the site: an allow-list entry (subdomains count under it)"),
    ("page_path", "string", "path (+ #fragment in hash mode), never the query"),
    ("page_id", "string", "random id of the page view (beacon `id`)"),
    ("referrer_url", "string", "origin + path of the referrer; null when same site"),
    ("referrer_domain", "string", "referrer hostname; null when same site"),
    ("source", "string", "utm_source > ref > known referrer name > referrer host > Direct / None"),
    ("channel", "string", "GA4-style default channel group"),
    ("utm_source", "string", ""),
    ("utm_medium", "string", ""),
    ("utm_campaign", "string", ""),
    ("utm_term", "string", ""),
    ("utm_content", "string", ""),
    ("browser_name", "string", ""),
    ("browser_version", "string", "major version"),
    ("os_name", "string", ""),
    ("os_version", "string", ""),
    ("device_type", "string", "desktop | mobile | tablet"),
    ("screen_width", "int", ""),
    ("screen_height", "int", ""),
    ("viewport_width", "int", ""),
    ("language", "string", "navigator.language"),
    ("timezone", "string", "IANA time zone"),
    ("country_code", "string", "ISO-3166 alpha-2; time-zone fallback"),
    ("edge_location", "string", "x-edge-location, e.g. FRA56-P4"),
    ("edge_city", "string", ""),
    ("edge_country", "string", ""),
    ("edge_latitude", "double", ""),
    ("edge_longitude", "double", ""),
    ("visitor_id", "string", "64-bit keyed hash with a daily salt, hex"),
    ("engagement_ms", "int", "engaged (visible) time in ms"),
    ("scroll_depth", "int", "max scroll depth in percent"),
    ("hostname", "string", "page host, lower-case, punycode (domain_name: its site)"),
)

#: (column, Glue type, comment); the lake is laid out as events/event_date=YYYY-MM-DD/
PARTITION_KEYS: Final[tuple[tuple[str, str, str], ...]] = (
    ("event_date", "string", "YYYY-MM-DD of event_time (UTC)"),
)

COLUMN_NAMES: Final[tuple[str, ...]] = tuple(c[0] for c in EVENT_COLUMNS)
ALL_COLUMN_NAMES: Final[tuple[str, ...]] = COLUMN_NAMES + tuple(c[0] for c in PARTITION_KEYS)
COLUMN_TYPES: Final[dict[str, str]] = {c[0]: c[1] for c in EVENT_COLUMNS + PARTITION_KEYS}

#: how ``event_time`` travels in the JSON records: epoch milliseconds (Firehose's
#: Hive JSON SerDe, the one with a "millis" timestamp format, reads it)
EVENT_TIME_FORMAT: Final[str] = "millis"

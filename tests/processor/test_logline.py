"""The line parser maps by the field list and never trusts the field count."""

from __future__ import annotations

import pytest
from factories import log_record, make_line

from stream_processor.fields import FIELD_INDEX, REALTIME_LOG_FIELDS
from stream_processor.logline import format_line, parse_timestamp_ms, split_line


def test_field_list_is_cloudfront_order_and_has_what_the_parser_needs() -> None:
    # CloudFront's documented order; the parser relies on these names
    assert REALTIME_LOG_FIELDS[:2] == ("timestamp", "c-ip")
    needed = {
        "cs-method",
        "cs-uri-stem",
        "x-edge-request-id",
        "cs-user-agent",
        "cs-uri-query",
        "c-country",
        "x-edge-location",
    }
    assert needed <= set(REALTIME_LOG_FIELDS)
    documented = [
        "timestamp",
        "c-ip",
        "sc-status",
        "cs-method",
        "cs-uri-stem",
        "x-edge-location",
        "x-edge-request-id",
        "x-host-header",
        "cs-user-agent",
        "cs-referer",
        "cs-uri-query",
        "x-edge-result-type",
        "c-country",
        "asn",
    ]
    order = [documented.index(f) for f in REALTIME_LOG_FIELDS]
    assert order == sorted(order)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (make_line(), "ok"),
        (make_line() + "\n", "ok"),
        (make_line() + "\r\n", "ok"),
        (make_line() + "\textra\tfields", "ok"),  # a config that grew at the end
        ("\t".join(["x"] * (len(REALTIME_LOG_FIELDS) - 1)), None),  # a field short
        ("", None),
        ("not a log line", None),
    ],
)
def test_split_line(line: str, expected: str | None) -> None:
    values = split_line(line)
    if expected is None:
        assert values is None
    else:
        assert values is not None and len(values) == len(REALTIME_LOG_FIELDS)
        assert values[FIELD_INDEX["cs-uri-stem"]].startswith("/hello.gif?v=1&t=pv&u=https%253A")


def test_dash_means_empty() -> None:
    values = split_line(make_line(c_country="-", cs_referer="-"))
    assert values is not None
    assert values[FIELD_INDEX["c-country"]] == ""
    assert values[FIELD_INDEX["cs-referer"]] == ""


def test_format_line_round_trips_and_never_emits_a_stray_tab() -> None:
    record = log_record(cs_referer="has\ttab")
    values = split_line(format_line(record))
    assert values is not None
    assert values[FIELD_INDEX["cs-referer"]] == "has tab"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1732800000.123", 1732800000123),
        ("1732800000", 1732800000000),
        ("1732800000.1239", 1732800000124),
        ("0", None),  # 1970: a corrupt line
        ("99999999999", None),  # year 5138
        ("nan", None),
        ("inf", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_timestamp_ms(value: str, expected: int | None) -> None:
    assert parse_timestamp_ms(value) == expected

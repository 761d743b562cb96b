"""Beacon decoding: the protocol's short keys, the hard limits, one typed value."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from factories import beacon_query
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_processor.beacon import (
    MAX_CACHED_VALUE,
    MAX_PROPS,
    MAX_QUERY,
    MAX_URL,
    BeaconError,
    decode,
    parse_query,
)
from stream_processor.reasons import Reason


def q(**params: str) -> str:
    return urlencode(params, quote_via=quote)


@pytest.mark.parametrize(
    ("query", "event_type", "hostname", "path"),
    [
        (beacon_query(), "pageview", "example.com", "/pricing"),
        (beacon_query(u="https://Example.COM"), "pageview", "example.com", "/"),
        (beacon_query(u="https://example.com:8443/a/b"), "pageview", "example.com", "/a/b"),
        (beacon_query(u="https://example.com./x"), "pageview", "example.com", "/x"),
        (
            beacon_query(u="https://example.com/app#/settings"),
            "pageview",
            "example.com",
            "/app#/settings",
        ),
        (beacon_query(u="https://example.com/caf%C3%A9"), "pageview", "example.com", "/café"),
        (beacon_query(t="en", e="1500", sd="80"), "engagement", "example.com", "/pricing"),
        (beacon_query(t="ev", n="Signup"), "event", "example.com", "/pricing"),
    ],
)
def test_valid_beacons(query: str, event_type: str, hostname: str, path: str) -> None:
    beacon = decode(query)
    assert (beacon.event_type, beacon.hostname, beacon.path) == (event_type, hostname, path)


def test_the_page_query_string_never_survives() -> None:
    beacon = decode(beacon_query(u="https://example.com/p?email=a@b.c&token=secret"))
    assert beacon.path == "/p"
    assert "secret" not in repr(beacon.path)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", Reason.MALFORMED),
        ("garbage", Reason.MALFORMED),
        (q(t="pv", u="https://example.com/"), Reason.MALFORMED),  # no version
        (q(v="2", t="pv", u="https://example.com/"), Reason.UNSUPPORTED_VERSION),
        (q(v="1", t="xx", u="https://example.com/"), Reason.MALFORMED),
        (q(v="1", t="pv"), Reason.MALFORMED),  # no URL
        (q(v="1", t="pv", u="javascript:alert(1)"), Reason.MALFORMED),
        (q(v="1", t="pv", u="file:///etc/passwd"), Reason.MALFORMED),
        (q(v="1", t="pv", u="https://[::1"), Reason.MALFORMED),
        (q(v="1", t="ev", u="https://example.com/"), Reason.MALFORMED),  # event without name
        (q(v="1", t="ev", n="x", u="https://example.com/", p="{not json"), Reason.MALFORMED),
        (q(v="1", t="ev", n="x", u="https://example.com/", p="[1,2]"), Reason.MALFORMED),
        ("v=1&t=pv&u=https://example.com/&x=" + "a" * MAX_QUERY, Reason.TOO_LARGE),
    ],
)
def test_rejected_beacons(query: str, reason: Reason) -> None:
    with pytest.raises(BeaconError) as info:
        decode(query)
    assert info.value.reason is reason


def test_props_past_the_thirtieth_key_are_dropped_not_the_event() -> None:
    # null values do not count: they are not kept
    wide = {"none": None} | {f"k{i}": i for i in range(MAX_PROPS + 10)}
    beacon = decode(beacon_query(t="ev", n="Wide", p=json.dumps(wide)))
    assert beacon.props == {f"k{i}": str(i) for i in range(MAX_PROPS)}


def test_props_become_bounded_strings() -> None:
    props = {
        "plan": "pro",
        "seats": 5,
        "trial": True,
        "ratio": 0.5,
        "skip": None,
        "nested": {"a": [1, 2]},
        "long": "x" * 5000,
    }
    beacon = decode(beacon_query(t="ev", n="Signup", p=json.dumps(props)))
    assert beacon.event_name == "Signup"
    assert beacon.props is not None
    assert beacon.props["plan"] == "pro"
    assert beacon.props["seats"] == "5"
    assert beacon.props["trial"] == "true"
    assert beacon.props["ratio"] == "0.5"
    assert "skip" not in beacon.props
    assert beacon.props["nested"] == '{"a":[1,2]}'
    assert len(beacon.props["long"]) <= 2048


def test_long_paths_and_names_are_cut() -> None:
    beacon = decode(beacon_query(t="ev", n="E" * 500, u="https://example.com/" + "p" * 5000))
    assert len(beacon.path) == MAX_URL
    assert beacon.event_name is not None and len(beacon.event_name) == 120


#: what makes query parsing differ: separators, escapes (valid, partial, encoding a
#: separator or a non-UTF-8 byte), ``+``, non-ASCII and lone surrogates
_QUERY_PIECES = st.sampled_from(
    ["&", "=", "&&", "==", "+", "%", "%2", "%26", "%3D", "%3d", "%2B", "%25", "%41", "%C3%A9",
     "%C3", "%E2%82", "%FF", "%zz", "é", "\ud800", " ", "v", "t", "u", "1", "pv", ";"]
)  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(_QUERY_PIECES, max_size=30).map("".join))
def test_parse_query_is_parse_qsl(query: str) -> None:
    """The beacon's own parser gives exactly ``dict(parse_qsl(query))``, blank values
    dropped, names repeated, escapes good or broken, twice for the cached values."""
    expected = dict(parse_qsl(query, keep_blank_values=False))
    assert parse_query(query) == expected
    assert parse_query(query) == expected


def test_parse_query_decodes_long_values_uncached() -> None:
    long = "https%3A%2F%2Fexample.com%2F" + "a" * MAX_CACHED_VALUE
    query = f"v=1&t=pv&u={long}&r={long[:40]}"
    assert parse_query(query) == dict(parse_qsl(query))

"""The record format against reality: real CloudFront records and the documented shape.

``ownstats-2022.tsv`` holds three records a real CloudFront distribution wrote (another
project's test data, not ours): they pin how the query sits in ``cs-uri-stem``, how
every ``%`` is logged as ``%25`` and how the user agent is encoded. The local
collector must write those bytes exactly. ``realtime-records.tsv`` holds hand-written
records of ownstats' own field list in that shape; every one must end as the event or
the drop a deployed stack would produce, whichever way the query was encoded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_to_bytes

import pytest
from factories import ENCODINGS, beacon_query, fixture_lines, make_line, reencode_request
from starlette.requests import Request

from ownstats.collector import log_record
from stream_processor import geo
from stream_processor.logline import (
    cloudfront_quote,
    parse_timestamp_ms,
    request_path,
    request_query,
)
from stream_processor.pipeline import Processor, agent_of
from stream_processor.reasons import Reason
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore

#: the field list of the deployment that captured ownstats-2022.tsv
FIELDS_2022 = [
    "timestamp",
    "c-ip",
    "sc-status",
    "cs-uri-stem",
    "cs-bytes",
    "x-edge-location",
    "time-taken",
    "cs-user-agent",
    "cs-referer",
    "cs-uri-query",
    "x-edge-result-type",
    "asn",
]


def real_records() -> list[dict[str, str]]:
    return [
        dict(zip(FIELDS_2022, line.split("\t"), strict=True))
        for line in fixture_lines("cloudfront/ownstats-2022.tsv")
    ]


def test_real_records_carry_the_query_in_the_stem_encoded_twice() -> None:
    records = real_records()
    assert len(records) == 3
    for record in records:
        stem, query = record["cs-uri-stem"], record["cs-uri-query"]
        assert request_path(stem) == "/hello.gif"
        assert stem == f"/hello.gif?{query}"
        assert "%253A%252F%252F" in query  # the browser's %3A%2F%2F, logged once more
        assert request_query(stem, query) == request_query(stem, "") == request_query("", query)


def test_real_query_decodes_exactly_once() -> None:
    first, event, third = real_records()
    params = dict(parse_qsl(request_query(first["cs-uri-stem"], first["cs-uri-query"])))
    assert params["u"] == "http://localhost:3000/azure"
    assert params["pa"] == "/azure"
    assert params["ti"] == "Map the Cloud - Azure Services & Regions"
    assert params["tz"] == "Europe/Berlin"
    params = dict(parse_qsl(request_query(event["cs-uri-stem"], "")))
    assert (params["en"], params["pr"]) == ("tabHidden", "{}")
    params = dict(parse_qsl(request_query(third["cs-uri-stem"], third["cs-uri-query"])))
    assert params["r"] == "https://cloudsecdocs.com/"
    assert params["tz"] == "America/Los_Angeles"


def test_real_user_agent_header_and_tracker_copy_agree() -> None:
    """The header (one CloudFront layer) and the tracker's ``ua`` (browser + CloudFront
    layers) are the same navigator.userAgent: both decodings must give one string."""
    for record in (real_records()[0], real_records()[2]):
        decoded, info = agent_of(record["cs-user-agent"])
        sent = dict(parse_qsl(request_query(record["cs-uri-stem"], "")))["ua"]
        assert decoded == sent
        assert decoded.startswith("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")
        assert info is not None and (info.browser_name, info.os_name) == ("Chrome", "Mac OS X")


def test_user_agent_length_is_judged_after_decoding() -> None:
    """Long encoded user agents are judged without decoding them only when no decoding
    could bring them under the limits: escaped multi-byte text shrinks up to 12 to 1."""
    browser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
    # 480 characters once decoded, 1,020 as logged (each "é" is "%C3%A9")
    accented = browser + " " + "é" * (480 - len(browser) - 1)
    raw = cloudfront_quote(accented)
    assert len(raw) > 1000
    decoded, _ = agent_of(raw)
    assert decoded == accented  # decoded and classified, not called too long unread
    assert agent_of(cloudfront_quote("😀" * 128 + browser))[0].startswith("😀")
    # longer than a verdict reads: decoded, judged and identified by its head
    # (useragent.head: the first MAX_LENGTH characters, cut at a whole token)
    decoded, info = agent_of(cloudfront_quote(browser + " " + "x" * 600))
    assert decoded == browser and info is not None
    # too long however it decodes (useragent.MAX_BYTES): a bot, the raw text never decoded
    long_raw = cloudfront_quote(browser + " " + "x" * 1100)
    assert agent_of(long_raw) == (long_raw, None)


def test_real_timestamps_viewers_and_edges() -> None:
    first, _, third = real_records()
    assert parse_timestamp_ms(first["timestamp"]) == 1668968526477
    assert third["c-ip"] == "2600:1700:2328:7f60:fc5c:8867:7522:1bef"  # IPv6 viewers exist
    hamburg, san_francisco = geo.edge(first["x-edge-location"]), geo.edge(third["x-edge-location"])
    assert hamburg is not None and hamburg.city == "Hamburg"
    assert san_francisco is not None and san_francisco.country == "US"


def collector_request(target: bytes, user_agent: bytes, referer: bytes) -> Request:
    path, _, query = target.partition(b"?")
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "path": unquote(path.decode("latin-1")),
            "raw_path": path,
            "query_string": query,
            "headers": [(b"user-agent", user_agent), (b"referer", referer), (b"host", b"x")],
            "client": ("192.0.2.1", 50000),
            "server": ("127.0.0.1", 8080),
        }
    )


@pytest.mark.parametrize("index", [0, 1, 2])
def test_local_collector_writes_what_cloudfront_wrote(index: int) -> None:
    """Given the request the browser sent, local mode logs CloudFront's exact bytes."""
    real = real_records()[index]
    # CloudFront's layer is a plain percent-encoding of bytes: one decode is the request
    sent = collector_request(
        unquote_to_bytes(real["cs-uri-stem"]),
        unquote_to_bytes(real["cs-user-agent"]),
        unquote_to_bytes(real["cs-referer"]),
    )
    logged = log_record(sent, trust_proxy=False, now=1668968526.477)
    for name in ("cs-uri-stem", "cs-uri-query", "cs-user-agent", "cs-referer"):
        assert logged[name] == real[name], name


def test_quote_matches_cloudfront_for_the_documented_characters() -> None:
    documented = "<>\"#%{}|\\^~[]`' "
    assert cloudfront_quote(documented) == ("%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60%27%20")
    assert cloudfront_quote("\t\n\x00\x7f") == "%09%0A%00%7F"
    assert cloudfront_quote("é€") == "%C3%A9%E2%82%AC"  # UTF-8 bytes, each encoded
    assert cloudfront_quote("a+b;c,d(e)/f:g=h&i!*@$") == "a+b;c,d(e)/f:g=h&i!*@$"


# -- ownstats records in the real shape ----------------------------------------------

ACCEPTED = "accepted"
EXPECTED: list[tuple[Reason | str, str]] = [
    (Reason.NOT_BEACON, "GET /hello.js"),
    (ACCEPTED, "pageview"),
    (ACCEPTED, "event"),
    (ACCEPTED, "engagement"),
    (Reason.NOT_BEACON, "response status 403"),
    (Reason.NOT_BEACON, "HEAD /hello.gif"),
    (ACCEPTED, "pageview"),
    (Reason.BOT, ""),
    (Reason.FOREIGN_DOMAIN, ""),
]


SALTS = MemorySaltStore()  # one day's salt for every run: visitor ids compare across runs


def run_all(lines: list[str]) -> list[dict[str, Any] | tuple[Reason, str]]:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=SALTS)
    return [processor.run(line) for line in lines]


def records(encoding: str = "cloudfront") -> list[str]:
    lines = fixture_lines("cloudfront/realtime-records.tsv")
    return lines if encoding == "cloudfront" else [reencode_request(x, encoding) for x in lines]


def test_every_fixture_record_ends_as_a_deployed_stack_would_count_it() -> None:
    outcomes = run_all(records())
    assert len(outcomes) == len(EXPECTED)
    for outcome, (expected, detail) in zip(outcomes, EXPECTED, strict=True):
        if expected == ACCEPTED:
            assert isinstance(outcome, dict), outcome
            assert outcome["event_type"] == detail
        else:
            assert isinstance(outcome, tuple) and outcome[0] is expected, outcome
            assert detail in outcome[1]


def test_fixture_values_are_decoded_exactly_once() -> None:
    _, pageview, event, engagement, _, _, iphone, _, _ = run_all(records())
    assert isinstance(pageview, dict) and isinstance(event, dict)
    assert isinstance(engagement, dict) and isinstance(iphone, dict)
    assert pageview["domain_name"] == "example.com"
    assert pageview["page_path"] == "/café/50%-off"
    assert pageview["utm_campaign"] == "black friday €"
    assert (pageview["utm_source"], pageview["utm_medium"]) == ("newsletter", "email")
    assert pageview["channel"] == "Email"
    assert pageview["referrer_domain"] == "google.com"
    assert (pageview["timezone"], pageview["language"]) == ("Europe/Berlin", "de-DE")
    assert (pageview["screen_width"], pageview["screen_height"]) == (1512, 982)
    assert (pageview["browser_name"], pageview["browser_version"]) == ("Chrome", "131")
    assert (pageview["os_name"], pageview["device_type"]) == ("Mac OS X", "desktop")
    assert (pageview["country_code"], pageview["edge_city"]) == ("DE", "Frankfurt am Main")
    assert event["event_name"] == "Sign up & pay = 100% 🎉"
    assert event["props"] == {
        "plan": "Pro+",
        "note": "a\tb",
        "price": "€9,99",
        "raw": "%09 & = + 100%",
    }
    assert event["page_path"] == pageview["page_path"]
    assert (engagement["engagement_ms"], engagement["scroll_depth"]) == (48211, 87)
    assert engagement["visitor_id"] == pageview["visitor_id"] == event["visitor_id"]
    # IPv6 viewer with "-" for country, ASN and Referer
    # a subdomain nobody listed counts under its site; the host is kept apart
    assert (iphone["domain_name"], iphone["hostname"]) == ("example.com", "blog.example.com")
    assert (iphone["os_name"], iphone["device_type"]) == ("iOS", "mobile")
    assert iphone["country_code"] == "US"  # from America/Los_Angeles
    assert iphone["edge_city"] == "San Francisco"


@pytest.mark.parametrize("encoding", [e for e in ENCODINGS if e != "cloudfront"])
def test_other_encodings_give_the_same_events(encoding: str) -> None:
    real, other = run_all(records()), run_all(records(encoding))
    for index, (a, b) in enumerate(zip(real, other, strict=True)):
        if encoding == "2013" and isinstance(a, dict) and a["props"]:
            # 2013 left a "%25" alone, so a literal "%09" and a double-encoded tab were
            # logged alike; like Snowplow, the double-encoded reading wins
            assert b["props"].pop("raw") == "\t & = + 100%"  # type: ignore[union-attr]
            a = {**a, "props": {k: v for k, v in a["props"].items() if k != "raw"}}
        assert a == b, f"record {index} differs for {encoding}"


URL = "https://example.com/x"
AWKWARD = ["100%", "a&b=c", "1+1 = 2", "€", "🎉 party", "%09", "%2F%3A", "50%25", "#hash", "~"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("value", AWKWARD)
def test_awkward_values_survive_exactly_once_decoded(encoding: str, value: str) -> None:
    query = beacon_query(
        t="ev", n=f"name {value} end", us=value, uc=value, p=f'{{"k":"{value}"}}', u=URL
    )
    event = run_all([make_line(query, encoding=encoding)])[0]
    assert isinstance(event, dict), event
    # the 2013 variant cannot tell a literal "%XX" from a double-encoded one (above)
    expected = unquote(value) if encoding == "2013" else value
    assert event["event_name"] == f"name {expected} end"
    assert (event["utm_source"], event["utm_campaign"]) == (expected, expected)
    assert event["props"] == {"k": expected}


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"cs_method": "OPTIONS"}, "OPTIONS /hello.gif"),
        ({"cs_method": "POST"}, "POST /hello.gif"),
        ({"sc_status": "502", "x_edge_result_type": "Error"}, "response status 502"),
        ({"sc_status": "000"}, "response status 000"),  # viewer hung up before the answer
        ({"path": "/hello.js"}, "GET /hello.js"),
        ({"path": "/hello.gif/x"}, "GET another path"),
    ],
)
def test_what_was_rightly_rejected_stays_rejected(fields: dict[str, str], detail: str) -> None:
    (outcome,) = run_all([make_line(**fields)])
    assert outcome == (Reason.NOT_BEACON, detail)

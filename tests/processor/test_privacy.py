"""Privacy is the product: no IP, user agent, page query string or cookie in events or logs."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import pytest
from factories import CHROME, IP, beacon_query, kinesis_event, make_line

from stream_processor.handler import process_event
from stream_processor.pipeline import Processor
from stream_processor.reasons import Reason
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore

SECRET_QUERY = "token=SECRET-TOKEN&email=someone%40example.net"


def test_nothing_personal_reaches_events_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sink = MemorySink()
    proc = Processor(domains=["example.com"], sink=sink, salts=MemorySaltStore())
    page = f"https://example.com/account?{SECRET_QUERY}"
    lines = [
        make_line(beacon_query(u=page, r=f"https://other.org/x?{SECRET_QUERY}")),
        make_line(beacon_query(u=f"https://evil.test/?{SECRET_QUERY}")),  # rejected: logged
        make_line(beacon_query(v="7", u=page)),
        make_line(f"garbage&{SECRET_QUERY}"),
        make_line(cs_user_agent=quote("curl/8.5.0 " + SECRET_QUERY)),
        make_line(cs_uri_stem=f"/hello.gif/{SECRET_QUERY}"),
        "broken line with " + IP,
    ]
    _, result = process_event(kinesis_event(lines), proc)
    assert result.accepted == 1 and sum(result.rejections.values()) == 6
    stored = json.dumps(sink.events)
    logged = caplog.text + json.dumps(result.rejections.examples)
    for secret in (IP, CHROME, "Mozilla", "SECRET-TOKEN", "someone"):
        assert secret not in stored, secret
        assert secret not in logged, secret


def run_one(line: str, clock: float | None = None) -> Any:
    kwargs = {"clock": lambda: clock} if clock is not None else {}
    proc = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore(), **kwargs)
    return proc.run(line)


@pytest.mark.parametrize(
    ("page", "stored"),
    [
        ("https://example.com/#/reset?token=SECRET-TOKEN", "/#/reset"),
        ("https://example.com/app#/login;session=SECRET-TOKEN?x=1", "/app#/login"),
        ("https://example.com/shop;jsessionid=SECRET-TOKEN", "/shop"),
        ("https://example.com/a;jsessionid=SECRET-TOKEN/b;v=1", "/a/b"),
        ("https://example.com/;jsessionid=SECRET-TOKEN", "/"),
        ("https://example.com/menu%3Bspecial", "/menu;special"),  # encoded: data, kept
        ("https://example.com/c;d", "/c;d"),  # no name=value: not a parameter
    ],
)
def test_tokens_in_hash_routes_and_path_parameters_are_not_stored(page: str, stored: str) -> None:
    event = run_one(
        make_line(beacon_query(u=page, r="https://other.org/in;jsessionid=SECRET-TOKEN"))
    )
    assert isinstance(event, dict), event
    assert event["page_path"] == stored
    assert event["referrer_url"] == "https://other.org/in"
    assert "SECRET-TOKEN" not in json.dumps(event)


def test_events_from_the_future_are_dropped_not_counted_as_current() -> None:
    now = 1732800000.0  # the factories' record time
    assert isinstance(run_one(make_line(), clock=now - 300), dict)  # 5 minutes of skew: fine
    reason, detail = run_one(make_line(), clock=now - 3600)  # an hour ahead of the processor
    assert (reason, detail) == (Reason.MALFORMED, "timestamp more than 10 minutes in the future")
    reason, _ = run_one(make_line(timestamp="4099999999.000"), clock=now)
    assert reason is Reason.MALFORMED


@pytest.mark.parametrize(
    "fields",
    [{"timestamp": "198.51.100.234"}, {"timestamp": IP}],
)
def test_rejection_details_never_echo_a_field(fields: dict[str, str]) -> None:
    reason, detail = run_one(make_line(**fields))
    assert reason is Reason.MALFORMED and IP not in detail and "198.51" not in detail


@pytest.mark.parametrize(
    "query",
    [beacon_query(t="203.0.113.77"), beacon_query(v="203.0.113.77")],
)
def test_beacon_details_never_echo_the_query(query: str) -> None:
    _, detail = run_one(make_line(query))
    assert "203.0" not in detail

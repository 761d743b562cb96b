"""Privacy is the product: no IP, user agent, page query string or cookie in events or logs."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
from factories import CHROME, IP, beacon_query, kinesis_event, make_line

from stream_processor.handler import process_event
from stream_processor.pipeline import Processor
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

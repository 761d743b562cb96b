"""One test per drop reason: each is counted, explained, and never crashes the batch."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from factories import CHROME, beacon_query, make_line

from stream_processor.pipeline import Processor
from stream_processor.reasons import Reason
from stream_processor.sinks import MemorySink


def only_reason(processor: Processor, line: str) -> tuple[Reason, str]:
    result = processor.process([("seq-1", line)])
    assert result.accepted == 0
    assert sum(result.rejections.values()) == 1
    (reason,) = result.rejections
    return reason, result.rejections.examples[reason]


def test_not_beacon_other_paths(processor: Processor) -> None:
    assert only_reason(processor, make_line(cs_uri_stem="/hello.js"))[0] is Reason.NOT_BEACON


def test_not_beacon_other_methods(processor: Processor) -> None:
    assert only_reason(processor, make_line(cs_method="POST"))[0] is Reason.NOT_BEACON


@pytest.mark.parametrize("status", ["403", "500", "502", "-"])
def test_not_beacon_error_responses(processor: Processor, status: str) -> None:
    reason, detail = only_reason(processor, make_line(sc_status=status))
    assert reason is Reason.NOT_BEACON and "status" in detail


@pytest.mark.parametrize("status", ["200", "304"])
def test_ok_and_not_modified_responses_count(processor: Processor, status: str) -> None:
    assert processor.process([("1", make_line(sc_status=status))]).accepted == 1


def test_malformed_line(processor: Processor) -> None:
    reason, detail = only_reason(processor, "this is not a real-time log line")
    assert reason is Reason.MALFORMED
    assert "fields" in detail


def test_malformed_timestamp(processor: Processor) -> None:
    assert only_reason(processor, make_line(timestamp="soon"))[0] is Reason.MALFORMED


def test_malformed_beacon(processor: Processor) -> None:
    assert only_reason(processor, make_line("v=1&t=pv"))[0] is Reason.MALFORMED


def test_unsupported_version(processor: Processor) -> None:
    assert only_reason(processor, make_line(beacon_query(v="9")))[0] is Reason.UNSUPPORTED_VERSION


def test_too_large(processor: Processor) -> None:
    line = make_line(beacon_query(u="https://example.com/" + "a" * 9000))
    assert only_reason(processor, line)[0] is Reason.TOO_LARGE


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com.evil.test/",  # look-alike suffix
        "https://evilexample.com/",  # not a label boundary
        "https://example.org/",
        "https://com/",
    ],
)
def test_foreign_domain(processor: Processor, url: str) -> None:
    reason, detail = only_reason(processor, make_line(beacon_query(u=url)))
    assert reason is Reason.FOREIGN_DOMAIN
    assert "allow-list" in detail


@pytest.mark.parametrize(
    "url", ["https://example.com/", "https://www.example.com/", "https://blog.example.com/x"]
)
def test_allowed_domains_exact_www_and_subdomains(processor: Processor, url: str) -> None:
    result = processor.process([("1", make_line(beacon_query(u=url)))])
    assert result.accepted == 1, result.rejections


def test_bot(processor: Processor) -> None:
    ua = quote("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert only_reason(processor, make_line(cs_user_agent=ua))[0] is Reason.BOT


def test_duplicate_request_id_in_one_batch(processor: Processor, sink: MemorySink) -> None:
    line = make_line(x_edge_request_id="same-id")
    result = processor.process([("1", line), ("2", line)])
    assert result.accepted == 1
    assert result.rejections == {Reason.DUPLICATE: 1}
    assert len(sink.events) == 1


def test_a_bug_in_a_step_is_a_counted_drop_not_a_crash(processor: Processor) -> None:
    def explode(hit: object) -> None:
        raise RuntimeError("boom")

    processor.named_steps = (*processor.named_steps[:2], ("explode", explode))
    result = processor.process([("1", make_line()), ("2", make_line())])
    assert result.rejections[Reason.MALFORMED] == 2
    assert result.failed_ids == []


def test_mixed_batch_counts_every_record(processor: Processor, sink: MemorySink) -> None:
    lines = [
        make_line(),
        make_line(cs_uri_stem="/favicon.ico"),
        make_line(beacon_query(u="https://evil.test/")),
        make_line(cs_user_agent="curl/8.5.0"),
        "garbage",
        make_line(beacon_query(t="ev", n="Signup")),
    ]
    result = processor.process(list(enumerate(lines)))
    assert result.records_in == 6
    assert result.accepted == 2
    assert result.rejections.as_dict() == {
        "bot": 1,
        "foreign_domain": 1,
        "malformed": 1,
        "not_beacon": 1,
    }
    assert [e["event_type"] for e in sink.events] == ["pageview", "event"]
    assert CHROME not in repr(result.rejections.examples)


def test_every_reason_has_a_test() -> None:
    tested = {
        "not_beacon",
        "malformed",
        "unsupported_version",
        "too_large",
        "foreign_domain",
        "bot",
        "duplicate",
    }
    assert {r.value for r in Reason} == tested

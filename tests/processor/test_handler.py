"""The Lambda handler: Kinesis in (plain and KPL-aggregated), Firehose out, partial failures."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator
from factories import (
    IP,
    beacon_query,
    emf_value,
    fixture_lines,
    kinesis_event,
    kinesis_record,
    make_line,
    stored_rows,
)

from stream_processor import handler as handler_mod
from stream_processor.kinesis import MAGIC
from stream_processor.pipeline import Processor, event_id_of
from stream_processor.reasons import REASON_METRICS_ENV, Reason
from stream_processor.schema import ALL_COLUMN_NAMES
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore


def aggregated_record(lines: list[str], sequence: str) -> dict[str, Any]:
    aggregator = RecordAggregator()
    for line in lines:
        assert aggregator.add_user_record("pk", (line + "\n").encode()) is None
    _pk, _ehk, data = aggregator.clear_and_get().get_contents()
    return kinesis_record(data, sequence)


def test_plain_records_with_and_without_newline(processor: Processor, sink: MemorySink) -> None:
    for newline in (True, False):
        sink.events.clear()
        response, result = handler_mod.process_event(
            kinesis_event([make_line(), make_line()], newline=newline), processor
        )
        assert response == {"batchItemFailures": []}
        assert result.accepted == 2 and len(sink.events) == 2


def test_kpl_aggregated_records_are_deaggregated(processor: Processor, sink: MemorySink) -> None:
    lines = [make_line(beacon_query(u=f"https://example.com/p{i}")) for i in range(25)]
    event = {
        "Records": [
            aggregated_record(lines[:20], "500"),
            kinesis_record((lines[20] + "\n").encode(), "501"),
            aggregated_record(lines[21:], "502"),
        ]
    }
    response, result = handler_mod.process_event(event, processor)
    assert response == {"batchItemFailures": []}
    assert result.records_in == 25
    assert [e["page_path"] for e in sink.events] == [f"/p{i}" for i in range(25)]


def test_one_record_holding_several_lines(processor: Processor, sink: MemorySink) -> None:
    data = (make_line() + "\n" + make_line() + "\n").encode()
    _, result = handler_mod.process_event({"Records": [kinesis_record(data, "7")]}, processor)
    assert result.accepted == 2


def test_undecodable_records_are_counted_not_raised(processor: Processor) -> None:
    broken = kinesis_record(b"", "9")
    broken["kinesis"]["data"] = "%%% not base64 %%%"
    event = {
        "Records": [
            broken,
            kinesis_record(b"\xff\xfe\x00garbage\n", "10"),
            kinesis_record((make_line() + "\n").encode(), "11"),
        ]
    }
    response, result = handler_mod.process_event(event, processor)
    assert response == {"batchItemFailures": []}
    assert result.accepted == 1
    assert result.rejections[Reason.MALFORMED] == 2


class FlakySink:
    """Fails the events whose page path is in ``failing``."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.stored: list[dict[str, Any]] = []

    def put(self, events: Any) -> list[int]:
        bad = [i for i, e in enumerate(events) if e["page_path"] in self.failing]
        self.stored.extend(e for i, e in enumerate(events) if i not in bad)
        return bad


def test_undelivered_events_become_batch_item_failures() -> None:
    sink = FlakySink({"/b", "/d"})
    proc = Processor(domains=["example.com"], sink=sink, salts=MemorySaltStore())
    lines = [make_line(beacon_query(u=f"https://example.com/{p}")) for p in "abcde"]
    response, result = handler_mod.process_event(kinesis_event(lines, start=100), proc)
    assert response == {"batchItemFailures": [{"itemIdentifier": "101"}, {"itemIdentifier": "103"}]}
    assert result.accepted == 3 and result.delivery_failures == 2


def test_failed_line_inside_an_aggregate_names_the_parent_record() -> None:
    sink = FlakySink({"/x"})
    proc = Processor(domains=["example.com"], sink=sink, salts=MemorySaltStore())
    lines = [make_line(beacon_query(u=f"https://example.com/{p}")) for p in ("a", "x", "b")]
    response, _ = handler_mod.process_event({"Records": [aggregated_record(lines, "900")]}, proc)
    assert response == {"batchItemFailures": [{"itemIdentifier": "900"}]}


def test_sink_that_raises_reports_the_whole_batch() -> None:
    class Down:
        def put(self, events: Any) -> list[int]:
            raise TimeoutError("firehose unreachable")

    proc = Processor(domains=["example.com"], sink=Down(), salts=MemorySaltStore())
    response, result = handler_mod.process_event(
        kinesis_event([make_line()] * 1 + [make_line()], start=1), proc
    )
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["1", "2"]
    assert result.accepted == 0


def test_warm_processor_is_reused_and_keeps_no_batch_state(
    processor: Processor, sink: MemorySink
) -> None:
    line = make_line(x_edge_request_id="fixed")
    _, first = handler_mod.process_event(kinesis_event([line]), processor)
    _, second = handler_mod.process_event(kinesis_event([line]), processor)
    # a Kinesis retry of the same record is not a "duplicate in this batch": it is delivered
    # again and the views dedupe on event_id
    assert first.accepted == second.accepted == 1
    assert not second.rejections


# -- end to end under moto -------------------------------------------------------------


def test_end_to_end_kinesis_to_s3(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        make_line(
            beacon_query(
                u="https://www.example.com/docs?secret=1",
                r="https://www.google.com/",
                us="",
                w="1280",
                l="en-US",
                tz="America/New_York",
            ),
            x_edge_request_id="id-1",
            x_edge_location="IAD89-C1",
            c_country="US",
        ),
        make_line(
            beacon_query(t="ev", n="Signup", p='{"plan":"pro"}', u="https://example.org/signup"),
            x_edge_request_id="id-2",
        ),
        make_line(beacon_query(u="https://evil.test/"), x_edge_request_id="id-3"),
        make_line(cs_user_agent="curl/8.5.0", x_edge_request_id="id-4"),
    ]
    response = handler_mod.handler(kinesis_event(lines), None)
    assert response == {"batchItemFailures": []}

    rows = stored_rows(aws["s3"])
    assert [r["event_id"] for r in rows] == [event_id_of("id-1"), event_id_of("id-2")]
    first, second = rows
    assert set(first) == set(ALL_COLUMN_NAMES)
    assert first["event_type"] == "pageview"
    assert first["event_time"] == 1732800000123
    assert first["event_date"] == "2024-11-28"
    assert first["domain_name"] == "example.com"
    assert first["page_path"] == "/docs"
    assert (first["source"], first["channel"]) == ("Google", "Organic Search")
    assert first["referrer_url"] == "https://google.com/"
    assert (first["browser_name"], first["os_name"], first["device_type"]) == (
        "Chrome",
        "Windows",
        "desktop",
    )
    assert (first["viewport_width"], first["language"]) == (1280, "en-US")
    assert (first["country_code"], first["edge_city"], first["edge_country"]) == (
        "US",
        "Washington",
        "US",
    )
    assert len(first["visitor_id"]) == 16
    assert (second["event_type"], second["event_name"], second["props"]) == (
        "event",
        "Signup",
        {"plan": "pro"},
    )
    assert second["domain_name"] == "example.org"

    # privacy: no IP, user agent or page query string in storage
    raw = json.dumps(rows)
    assert IP not in raw and "Mozilla" not in raw and "secret" not in raw

    # the salt lives in SSM, not in the lake
    salt = aws["ssm"].get_parameter(Name="/ownstats/test/salts/2024-11-28", WithDecryption=True)[
        "Parameter"
    ]["Value"]
    assert salt not in raw

    # metrics in Embedded Metric Format, rejections by reason
    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "_aws" in line
    ]

    rejected = {m["reason"]: emf_value(m["EventsRejected"]) for m in emf if "EventsRejected" in m}
    assert rejected == {"foreign_domain": 1, "bot": 1}
    totals = next(m for m in emf if "RecordsIn" in m)
    assert [emf_value(totals[k]) for k in ("RecordsIn", "EventsAccepted", "PageViews")] == [4, 2, 1]


def test_end_to_end_firehose_outage_reports_back(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNSTATS_FIREHOSE_STREAM", "no-such-stream")
    handler_mod.processor.cache_clear()
    proc = handler_mod.processor()
    proc.sink.sleep = lambda s: None  # type: ignore[attr-defined]
    event = kinesis_event([make_line(), make_line()], start=40)
    response = handler_mod.handler(event, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "40"}, {"itemIdentifier": "41"}]}
    assert stored_rows(aws["s3"]) == []


# A function that fails on its configuration has no metrics to flush; powertools says so.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_domains_is_a_clear_configuration_error(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNSTATS_DOMAINS", "")
    handler_mod.processor.cache_clear()
    with pytest.raises(RuntimeError, match="OWNSTATS_DOMAINS"):
        handler_mod.handler(kinesis_event([make_line()]), None)


def test_kinesis_data_is_base64_of_the_line() -> None:
    event = kinesis_event(["a\tb"])
    assert base64.b64decode(event["Records"][0]["kinesis"]["data"]) == b"a\tb\n"


def test_real_format_fixture_through_the_handler_under_moto(aws: dict[str, Any]) -> None:
    """CloudFront-shaped records (tests/fixtures/cloudfront/), partly KPL-aggregated, into
    Firehose and S3: each valid beacon stored once, every other record dropped."""
    lines = fixture_lines("cloudfront/realtime-records.tsv")
    event = {
        "Records": [
            aggregated_record(lines[:4], "900"),
            *kinesis_event(lines[4:], start=901)["Records"],
        ]
    }
    response = handler_mod.handler(event, None)
    assert response == {"batchItemFailures": []}
    rows = sorted(stored_rows(aws["s3"]), key=lambda r: r["event_time"])
    assert [(r["event_type"], r["domain_name"], r["page_path"]) for r in rows] == [
        ("pageview", "example.com", "/café/50%-off"),
        ("event", "example.com", "/café/50%-off"),
        ("engagement", "example.com", "/café/50%-off"),
        ("pageview", "example.com", "/#/reset"),  # a subdomain counts under its site
    ]
    assert [r["hostname"] for r in rows] == ["example.com"] * 3 + ["blog.example.com"]
    assert rows[1]["props"]["raw"] == "%09 & = + 100%"
    assert rows[0]["utm_campaign"] == "black friday €"
    assert len({r["event_id"] for r in rows}) == 4
    raw = json.dumps(rows)
    for secret in ("198.51.100.23", "2001:db8", "Mozilla", "%25"):
        assert secret not in raw


def test_only_a_newline_ends_a_record_line(processor: Processor, sink: MemorySink) -> None:
    # str.splitlines() would also split at these; a record must stay one record
    line = make_line(cs_referer="https://ref.test/\x1c\x1d\x1e\x85\u2028\u2029\x0b\x0c")
    _, result = handler_mod.process_event(kinesis_event([line]), processor)
    assert (result.records_in, result.accepted) == (1, 1)


def test_reason_metrics_are_an_option(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """-c reason_metrics=false (the default) sets "0": no per-reason metric, still the totals."""
    monkeypatch.setenv(REASON_METRICS_ENV, "0")
    logged: list[dict[str, int]] = []
    monkeypatch.setattr(
        handler_mod.logger, "info", lambda _msg, **fields: logged.append(fields["rejected"])
    )
    lines = [
        make_line(),
        make_line(beacon_query(u="https://evil.test/")),
        make_line(cs_user_agent="curl/8.5.0"),
    ]
    assert handler_mod.handler(kinesis_event(lines), None) == {"batchItemFailures": []}
    out = capsys.readouterr().out
    emf = [json.loads(x) for x in out.splitlines() if x.startswith("{") and "_aws" in x]
    assert not [m for m in emf if "EventsRejected" in m]
    totals = next(m for m in emf if "RecordsIn" in m)
    assert [emf_value(totals[k]) for k in ("RecordsIn", "EventsAccepted")] == [3, 1]
    assert logged == [{"bot": 1, "foreign_domain": 1}]  # the batch's log line keeps them


def broken_aggregate(
    lines: list[str], *, partition_index: int = 0, hash_index: int | None = None
) -> bytes:
    """A KPL aggregate (aws-kinesis-agg's own protobuf) whose last record has bad indexes."""
    from aws_kinesis_agg.deaggregator import messages_pb2

    aggregate = messages_pb2.AggregatedRecord()
    aggregate.partition_key_table.append("pk")
    if hash_index is not None:
        aggregate.explicit_hash_key_table.append("1")
    for i, line in enumerate(lines):
        record = aggregate.records.add()
        record.data = (line + "\n").encode()
        last = i == len(lines) - 1
        record.partition_key_index = partition_index if last else 0
        if hash_index is not None:
            record.explicit_hash_key_index = hash_index if last else 0
    body = aggregate.SerializeToString()
    return MAGIC + body + hashlib.md5(body, usedforsecurity=False).digest()


@pytest.mark.parametrize(
    ("indexes", "what"),
    [({"partition_index": 7}, "partition key"), ({"hash_index": 3}, "explicit hash key")],
)
def test_corrupt_kpl_aggregate_is_counted_and_never_printed(
    processor: Processor, capfd: pytest.CaptureFixture[str], indexes: dict[str, int], what: str
) -> None:
    lines = [make_line(), make_line(), make_line()]
    event = {
        "Records": [
            kinesis_record(broken_aggregate(lines, **indexes), "77"),
            *kinesis_event([make_line()], start=78)["Records"],
        ]
    }
    response, result = handler_mod.process_event(event, processor)
    assert response == {"batchItemFailures": []}
    # the aggregate's three records are dropped as malformed, the plain one accepted
    assert (result.records_in, result.accepted) == (4, 1), what
    assert result.rejections == {Reason.MALFORMED: 3}
    out, err = capfd.readouterr()
    assert IP not in out + err and "Mozilla" not in out + err and "Raw data" not in err


@pytest.mark.parametrize(
    "event",
    [
        None,
        "not an event",
        {},
        {"Records": None},
        {"Records": "x"},
        {"Records": [None, "a string", 7, {}, {"kinesis": None}, {"kinesis": {"data": "eA=="}}]},
        {"Records": [{"kinesis": {"sequenceNumber": "5", "data": None}}]},
        {"Records": [{"kinesis": {"sequenceNumber": "5"}}]},
    ],
)
def test_any_event_shape_ends_counted_never_raised(processor: Processor, event: Any) -> None:
    response, result = handler_mod.process_event(event, processor)
    assert response == {"batchItemFailures": []}
    records = event.get("Records") if isinstance(event, dict) else None
    expected = len(records) if isinstance(records, list) else 0
    assert result.records_in == expected == sum(result.rejections.values())

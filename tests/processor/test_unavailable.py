"""An environment failure (salt store throttled, disk trouble, no file handles) is a
*failure*: the records are reported back for a retry and counted apart, never dropped
as malformed. Input errors stay drops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from factories import beacon_query, kinesis_event, make_line
from moto import mock_aws

from ownstats.cli import process_with_retries
from ownstats.collector import Pump, Stream
from stream_processor import handler as handler_mod
from stream_processor.pipeline import Processor
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore, SsmSaltStore


class FlakyStore:
    """Fails the first ``failures`` calls the way the real stores do, then works."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error = failures, error
        self.store = MemorySaltStore()

    def salt_for(self, day: str) -> bytes:
        if self.failures:
            self.failures -= 1
            raise self.error
        return self.store.salt_for(day)


THROTTLED = ClientError(
    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameter"
)


def beacons(n: int) -> list[str]:
    return [make_line(beacon_query(u=f"https://example.com/p{i}")) for i in range(n)]


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ssm")


def test_throttled_ssm_reports_every_record_back_and_drops_none(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(**_: Any) -> Any:
        raise THROTTLED

    monkeypatch.setattr(ssm, "get_parameter", throttled)
    sink = MemorySink()
    processor = Processor(
        domains=["example.com"], sink=sink, salts=SsmSaltStore(ssm, "/ownstats/t/salts/")
    )
    event = kinesis_event(beacons(100), start=1000)
    response, result = handler_mod.process_event(event, processor)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        str(1000 + i) for i in range(100)
    ]
    assert (result.records_in, result.accepted, result.unavailable) == (100, 0, 100)
    assert not result.rejections and not sink.events

    monkeypatch.undo()  # SSM answers again: Lambda's retry of the same records succeeds
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    response, result = handler_mod.process_event(event, processor)
    assert response == {"batchItemFailures": []}
    assert result.accepted == 100 and len(sink.events) == 100


def test_records_after_a_failure_are_not_processed_twice() -> None:
    """Kinesis resumes from the lowest failed record, so the rest of the batch is handed
    back unprocessed; records before it are delivered once."""
    sink = MemorySink()
    store = FlakyStore(1, OSError(24, "Too many open files"))
    processor = Processor(domains=["example.com"], sink=sink, salts=store)
    lines = [make_line(cs_user_agent="curl/8.5.0"), *beacons(3)]  # a bot needs no salt
    response, result = handler_mod.process_event(kinesis_event(lines, start=1), processor)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["2", "3", "4"]
    assert result.rejections.as_dict() == {"bot": 1} and result.unavailable == 3


def test_a_bug_on_one_input_is_still_a_counted_drop() -> None:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())

    def broken(hit: Any) -> None:
        raise ZeroDivisionError

    processor.named_steps = (("broken", broken),)
    _, result = handler_mod.process_event(kinesis_event(beacons(2)), processor)
    assert result.rejections.as_dict() == {"malformed": 2} and not result.failed_ids


def test_ingest_retries_exactly_the_failed_records() -> None:
    sink = MemorySink()
    processor = Processor(
        domains=["example.com"], sink=sink, salts=FlakyStore(2, OSError(28, "No space left"))
    )
    result = process_with_retries(processor, list(enumerate(beacons(5))), (0, 0, 0))
    assert (result.records_in, result.accepted, result.failed) == (5, 5, 0)
    assert sorted(e["page_path"] for e in sink.events) == [f"/p{i}" for i in range(5)]


def test_ingest_gives_up_after_its_retries_and_says_so() -> None:
    processor = Processor(
        domains=["example.com"], sink=MemorySink(), salts=FlakyStore(99, OSError(13, "denied"))
    )
    result = process_with_retries(processor, list(enumerate(beacons(3))), (0, 0, 0))
    assert (result.accepted, result.failed, len(result.failed_ids)) == (0, 3, 3)
    assert not result.rejections


def test_local_pump_keeps_failed_lines_on_the_stream_until_they_go_through() -> None:
    sink, store = MemorySink(), FlakyStore(1, OSError(24, "Too many open files"))
    stream = Stream()
    for line in beacons(4):
        stream.put(line)
    pump = Pump(stream, Processor(domains=["example.com"], sink=sink, salts=store))
    assert pump.drain() == 4 and len(stream) == 4 and not sink.events  # all kept
    assert pump.drain() == 0 and len(stream) == 0 and len(sink.events) == 4
    assert pump.totals.rejections == {}

"""Processor fixtures: a processor over a memory sink, and a one-line runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from factories import make_line
from moto import mock_aws

from stream_processor import handler as handler_mod
from stream_processor.pipeline import Processor
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def processor(sink: MemorySink) -> Processor:
    return Processor(domains=["example.com"], sink=sink, salts=MemorySaltStore())


@pytest.fixture
def one_event(processor: Processor, sink: MemorySink) -> Callable[..., dict[str, Any]]:
    """Run one line; return its event (fails the test when it was dropped)."""

    def run(query: str | None = None, **fields: str) -> dict[str, Any]:
        outcome = processor.run(make_line(query, **fields))
        assert isinstance(outcome, dict), f"dropped: {outcome}"
        return outcome

    return run


# -- AWS under moto: Firehose into an S3 lake, the handler configured by env ------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lake")
        firehose = boto3.client("firehose")
        firehose.create_delivery_stream(
            DeliveryStreamName="ownstats-events",
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": "arn:aws:s3:::lake",
                "Prefix": "events/",
                "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 64},
            },
        )
        monkeypatch.setenv("OWNSTATS_DOMAINS", "example.com,example.org")
        monkeypatch.setenv("OWNSTATS_FIREHOSE_STREAM", "ownstats-events")
        monkeypatch.setenv("OWNSTATS_SALT_PREFIX", "/ownstats/test/salts/")
        handler_mod.processor.cache_clear()
        yield {"s3": s3, "ssm": boto3.client("ssm")}
        handler_mod.processor.cache_clear()

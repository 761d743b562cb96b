"""`ownstats replay-errors` under moto, on error objects in the shape Firehose documents
("Handling errors for data format conversion": one JSON document per failed record)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from factories import beacon_query, make_line
from moto import mock_aws

from ownstats.cli import main
from stream_processor.pipeline import Processor
from stream_processor.sinks import MemorySink, encode
from stream_processor.visitor import MemorySaltStore

BUCKET = "ownstats-lake"
STREAM = "ownstats-events"


def error_document(raw: bytes, code: str = "DataFormatConversion.MalformedData") -> str:
    return json.dumps(
        {
            "attemptsMade": 1,
            "arrivalTimestamp": 1732800000000,
            "ErrorCode": code,
            "ErrorMessage": "The schema is invalid. Unsupported column type: …",
            "attemptEndingTimestamp": 1732800060000,
            "rawData": base64.b64encode(raw).decode(),
            "sequenceNumber": "49546986683135544286507457936321625675700192471156785154",
            "subSequenceNumber": 0,
            "dataCatalogTable": {
                "catalogId": None,
                "databaseName": "ownstats_example_com",
                "tableName": "events",
                "region": "us-east-1",
                "versionId": "LATEST",
                "catalogArn": None,
            },
        }
    )


@pytest.fixture
def aws(fake_aws_env: None) -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        boto3.client("firehose").create_delivery_stream(
            DeliveryStreamName=STREAM,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{BUCKET}",
                "Prefix": "events/",
            },
        )
        yield s3


def events(n: int) -> list[dict[str, Any]]:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
    return [processor.run(make_line(beacon_query(u=f"https://example.com/r{i}"))) for i in range(n)]  # type: ignore[misc]


def keys(s3: Any, prefix: str) -> list[str]:
    return sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    )


def delivered(s3: Any) -> list[dict[str, Any]]:
    rows = []
    for key in keys(s3, "events/"):
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        rows += [json.loads(line) for line in body.splitlines() if line]
    return rows


def test_dry_run_then_apply_resends_each_event_once(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = events(7)
    packed = b"".join(encode(e) for e in batch[:5])  # one Firehose record: JSON lines
    first = error_document(packed) + "\n" + error_document(encode(batch[5])) + "\n"
    aws.put_object(Bucket=BUCKET, Key="errors/format-conversion-failed/2026-11-28/a", Body=first)
    aws.put_object(
        Bucket=BUCKET,
        Key="errors/partitioning-failed/2026-11-28/b",
        Body=error_document(encode(batch[6]), "DynamicPartitioning.MetadataExtractionFailed"),
    )
    aws.put_object(  # something that is not ours: reported, never sent, never moved
        Bucket=BUCKET, Key="errors/format-conversion-failed/2026-11-28/c",
        Body=error_document(b"not json at all"),
    )  # fmt: skip
    args = ["replay-errors", "--bucket", BUCKET, "--delivery-stream", STREAM]

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "events: 7" in out and "unreadable records: 1" in out and "dry run" in out
    assert delivered(aws) == []

    assert main([*args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "sent: 7  failed: 0  objects moved: 2" in out
    assert sorted(r["event_id"] for r in delivered(aws)) == sorted(e["event_id"] for e in batch)
    assert keys(aws, "errors/") == ["errors/format-conversion-failed/2026-11-28/c"]
    assert keys(aws, "errors-replayed/") == [
        "errors-replayed/format-conversion-failed/2026-11-28/a",
        "errors-replayed/partitioning-failed/2026-11-28/b",
    ]

    assert main([*args, "--apply"]) == 0  # again: nothing sent twice
    assert "sent: 0" in capsys.readouterr().out
    assert len(delivered(aws)) == 7


def test_without_a_stack_or_names_it_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay-errors"]) == 2
    assert "--stack" in capsys.readouterr().err

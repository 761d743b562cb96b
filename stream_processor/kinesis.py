"""Kinesis event → (sequence number, log line) pairs, and the partial batch response.

CloudFront puts one log line per Kinesis record; a KPL-aggregated record carries many
(unpacked with aws-kinesis-agg's format constants and protobuf schema). Every line
keeps the sequence number of the Kinesis record that carried it, because that is what
Lambda's partial batch response names:
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html

Whatever arrives, every record ends as lines for the processor or as one counted
"undecodable" detail per record it held: nothing raises, nothing vanishes uncounted,
and no record's content is ever printed. (aws-kinesis-agg's own iterator prints a
broken aggregate's raw data, IPs and user agents included, to stderr, raises
IndexError for a bad hash-key index and silently drops the rest of an aggregate with a
bad partition-key index; so its checks are repeated here and its iterator not used.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import aws_kinesis_agg
from aws_kinesis_agg.deaggregator import messages_pb2  # (its import fixes sys.path for the pb2)
from google.protobuf.message import DecodeError

AggregatedRecord = messages_pb2.AggregatedRecord
MAGIC: bytes = aws_kinesis_agg.MAGIC
DIGEST_SIZE: int = aws_kinesis_agg.DIGEST_SIZE


def aggregate_of(data: bytes) -> AggregatedRecord | None:
    """The KPL aggregate in ``data``, or None for a plain record.

    The same test as aws-kinesis-agg: magic prefix, an MD5 digest that matches and a
    protobuf that parses; anything else is delivered as one plain record.
    """
    if not data.startswith(MAGIC) or len(data) <= len(MAGIC) + DIGEST_SIZE:
        return None
    body, digest = data[len(MAGIC) : -DIGEST_SIZE], data[-DIGEST_SIZE:]
    if hashlib.md5(body, usedforsecurity=False).digest() != digest:
        return None
    aggregate = AggregatedRecord()
    try:
        aggregate.ParseFromString(body)
    except DecodeError:
        return None
    return aggregate


def broken_indexes(aggregate: AggregatedRecord) -> bool:
    """Whether a user record points outside the key tables: a corrupt aggregate."""
    keys, hash_keys = len(aggregate.partition_key_table), len(aggregate.explicit_hash_key_table)
    return any(
        record.partition_key_index >= keys
        or (hash_keys and record.explicit_hash_key_index >= hash_keys)
        for record in aggregate.records
    )


def split_lines(data: bytes) -> Iterator[str]:
    text = data.decode("utf-8", errors="replace")
    # "\n" only: str.splitlines() would also split at \x1c, \x85, \u2028 …
    for line in text.split("\n"):
        if line.strip():
            yield line


def lines_of(records: Any, undecodable: list[str]) -> Iterator[tuple[str, str]]:
    """Each log line with its record's sequence number; one detail per bad record held."""
    if not isinstance(records, list):
        records = []
    for record in records:
        kinesis = record.get("kinesis") if isinstance(record, dict) else None
        sequence = kinesis.get("sequenceNumber") if isinstance(kinesis, dict) else None
        if not isinstance(sequence, str) or not sequence:
            undecodable.append("record without a Kinesis sequence number")
            continue
        try:
            data = base64.b64decode(kinesis["data"], validate=True)
        except (binascii.Error, KeyError, TypeError, ValueError) as error:
            undecodable.append(f"record {sequence[:60]}: {type(error).__name__}")
            continue
        aggregate = aggregate_of(data)
        if aggregate is None:
            for line in split_lines(data):
                yield sequence, line
            continue
        if broken_indexes(aggregate):
            detail = f"record {sequence[:60]}: KPL aggregate with a key index out of range"
            undecodable.extend([detail] * max(1, len(aggregate.records)))
            continue
        for user_record in aggregate.records:
            for line in split_lines(user_record.data):
                yield sequence, line


def batch_response(failed: Sequence[Hashable]) -> dict[str, list[dict[str, Hashable]]]:
    """``{"batchItemFailures": [...]}``; Lambda resumes from the lowest one named."""
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}

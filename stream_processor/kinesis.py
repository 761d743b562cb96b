"""Kinesis event → (sequence number, log line) pairs, and the partial batch response.

CloudFront puts one log line per Kinesis record; a KPL-aggregated record carries many
(aws-kinesis-agg unpacks them). Every line keeps the sequence number of the Kinesis
record that carried it, because that is what Lambda's partial batch response names:
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

from aws_kinesis_agg.deaggregator import iter_deaggregate_records

log = logging.getLogger(__name__)


def lines_of(
    records: Sequence[dict[str, Any]], undecodable: list[str]
) -> Iterator[tuple[str, str]]:
    """Each log line with its record's sequence number; bad records go to ``undecodable``."""
    for record in records:
        sequence = record.get("kinesis", {}).get("sequenceNumber", "?")
        try:
            for user_record in iter_deaggregate_records([record]):
                data = base64.b64decode(user_record["kinesis"]["data"], validate=True)
                text = data.decode("utf-8", errors="replace")
                # "\n" only: str.splitlines() would also split at \x1c, \x85, \u2028 …
                for line in text.split("\n"):
                    if line.strip():
                        yield sequence, line
        except (binascii.Error, KeyError, TypeError, ValueError) as error:
            undecodable.append(f"record {sequence}: {type(error).__name__}")


def batch_response(failed: Sequence[Hashable]) -> dict[str, list[dict[str, Hashable]]]:
    """``{"batchItemFailures": [...]}``; Lambda resumes from the lowest one named."""
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}

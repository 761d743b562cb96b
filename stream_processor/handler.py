"""The Lambda entry point: ``stream_processor.handler.handler`` (Kinesis event source).

Configuration comes from the environment the CDK app sets; the processor, its
Firehose client and its salt cache are built once per container and reused while it
is warm. Counts per batch become CloudWatch metrics in Embedded Metric Format.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from .kinesis import batch_response, lines_of
from .masks import MASK_PATHS_ENV, parse_patterns
from .pipeline import BatchResult, Processor
from .reasons import REASON_METRICS_ENV, Reason

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ownstats")

# named for the package so the pipeline's module loggers (stream_processor.*) log as JSON too
logger = Logger(service="stream_processor")
metrics = Metrics(namespace=NAMESPACE)


@cache
def processor() -> Processor:
    """The warm container's processor, configured from the CDK-set environment."""
    import boto3

    from .sinks import FirehoseSink

    # no useragent.warm(): the list matchers compile only the patterns records need
    # (patternset.py), so a cold start no longer pays 2-4 s to build all of them first
    sink = FirehoseSink(boto3.client("firehose"), os.environ["OWNSTATS_FIREHOSE_STREAM"])
    return configured_processor(sink, boto3.client("ssm"))


def configured_processor(sink: Any, ssm: Any, clock: Callable[[], float] = time.time) -> Processor:
    """A processor as the stack configures it (domains, salts in SSM, masked paths), with
    ``sink`` for its events: the stream path's, or the archive repair's, so both give the
    same verdicts and the same visitor ids."""
    from .visitor import SsmSaltStore

    domains = [d for d in os.environ.get("OWNSTATS_DOMAINS", "").split(",") if d.strip()]
    if not domains:
        raise RuntimeError("OWNSTATS_DOMAINS is empty: set the allowed site domains")
    salts = SsmSaltStore(ssm, os.environ["OWNSTATS_SALT_PREFIX"], clock=clock)
    masks = parse_patterns(os.environ.get(MASK_PATHS_ENV, ""))
    return Processor(domains=domains, sink=sink, salts=salts, mask_paths=masks, clock=clock)


def process_event(event: Any, proc: Processor) -> tuple[dict[str, Any], BatchResult]:
    """Run one Kinesis event through ``proc``; the partial batch response and the counts."""
    undecodable: list[str] = []
    records = event.get("Records") if isinstance(event, dict) else None
    result = proc.process(lines_of(records, undecodable))
    for detail in undecodable:
        result.records_in += 1
        result.rejections.add(Reason.MALFORMED, detail)
    return batch_response(result.failed_ids), result


def emit_metrics(result: BatchResult) -> None:
    metrics.add_metric(name="RecordsIn", unit=MetricUnit.Count, value=result.records_in)
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="PageViews", unit=MetricUnit.Count, value=result.by_type["pageview"])
    metrics.add_metric(name="DeliveryFailures", unit=MetricUnit.Count, value=result.failed)
    if os.environ.get(REASON_METRICS_ENV, "1") != "1":
        return
    for reason, count in result.rejections.as_dict().items():
        with single_metric(
            name="EventsRejected", unit=MetricUnit.Count, value=count, namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="reason", value=reason)


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response, result = process_event(event, processor())
    emit_metrics(result)
    logger.info(
        "batch processed",
        records_in=result.records_in,
        accepted=result.accepted,
        rejected=result.rejections.as_dict(),
        failed_records=len(result.failed_ids),
    )
    return response

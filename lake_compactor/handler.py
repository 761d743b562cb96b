"""Lambda entry point ``lake_compactor.handler.handler``: one compaction run per call,
then the rollups of the days it (or Firehose since the last run) changed.

EventBridge calls it every hour (``cdk/compaction.py``). Configuration comes from the
environment the stack sets: ``OWNSTATS_LAKE_BUCKET`` (the lake bucket) and
``OWNSTATS_EVENTS_PREFIX`` (``events/``). The run stops planning new partitions when
less than four minutes of the invocation are left; the next run continues.

A run that hit errors raises after doing everything else it could, so the invocation
counts as failed (Lambda retries it twice; then the stack's failure queue gets the
error and its alarm fires). Retrying is always safe: the protocol is idempotent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lake_compactor import (
    BUCKET_ENV,
    ERRORS_LOOKBACK_S,
    ERRORS_PREFIX,
    PREFIX_ENV,
    TIME_ZONE_ENV,
)
from lake_compactor.metrics import metric_line
from lake_compactor.roll_up import roll_up
from lake_compactor.run import EVENTS_PREFIX, compact
from lake_compactor.store import S3Store

log = logging.getLogger("lake_compactor")
log.setLevel(logging.INFO)

#: replaced in tests; epoch seconds
clock = time.time
_client: Any = None


class CompactionError(RuntimeError):
    """Some partitions or manifests could not be handled in this run (see the log)."""


def _s3() -> Any:
    global _client
    if _client is None:
        import boto3  # in the Lambda runtime; imported late so tests can patch first

        _client = boto3.client("s3")
    return _client


def _memory_limit() -> str | None:
    """DuckDB may use 60 % of the function's memory; the rest is Python, boto3, buffers."""
    configured = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    return f"{int(int(configured) * 0.6)}MB" if configured else None


def _workdir() -> Path:
    """A fresh folder for this invocation under ``/tmp``; a warm container may still hold
    the files of a run that was killed (timeout), which are removed here."""
    root = Path(tempfile.gettempdir()) / "ownstats-compaction"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        try:
            if time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(dir=root))


def quarantine_metric(count: int, now: float) -> dict[str, Any]:
    """``ObjectsQuarantined``, which LakeQuarantineAlarm watches."""
    return metric_line("ObjectsQuarantined", count, now)


def recent_delivery_errors(store: S3Store, now: float) -> list[str]:
    """The objects Firehose wrote under ``errors/`` in the last ``ERRORS_LOOKBACK_S``.

    Every record Firehose could not convert, partition (no ``event_date``, or over the
    active-partition limit: ``activePartitionExceeded``) or write ends there, one folder
    per error output type. Firehose documents a metric for conversion failures
    (``FailedConversion.Records``) but none that counts records it could not partition,
    so the objects themselves are counted: whatever the cause, nothing lands in errors/
    without raising LakeDeliveryErrorsAlarm.
    """
    return sorted(
        o.key for o in store.list(ERRORS_PREFIX) if o.modified > now - ERRORS_LOOKBACK_S
    )


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    bucket = os.environ[BUCKET_ENV]
    prefix = os.environ.get(PREFIX_ENV, EVENTS_PREFIX)
    time_left = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        time_left = lambda: context.get_remaining_time_in_millis() / 1000  # noqa: E731
    workdir = _workdir()
    store = S3Store(bucket, _s3())
    try:
        report = compact(
            store,
            workdir=workdir,
            clock=clock,
            time_left=time_left,
            events_prefix=prefix,
            memory_limit=_memory_limit(),
        )
        # then the rollups of every day whose events this run (or Firehose) changed
        rollups = roll_up(
            store, workdir=workdir, events_prefix=prefix, clock=clock, time_left=time_left,
            memory_limit=_memory_limit(), zones=os.environ.get(TIME_ZONE_ENV, ""),
        )  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = {**report.as_dict(), "rollups": rollups.as_dict()}
    log.info(json.dumps({"compaction": summary}, sort_keys=True))
    if report.quarantined:
        print(json.dumps(quarantine_metric(len(report.quarantined), clock())), flush=True)
    errors = recent_delivery_errors(store, clock())
    if errors:
        log.warning(
            "%d object(s) under %s from the last %d h, e.g. %s: records Firehose could not "
            "convert or partition (replay: ownstats replay-errors)",
            len(errors), ERRORS_PREFIX, ERRORS_LOOKBACK_S // 3600, errors[-1],
        )  # fmt: skip
        # only when above zero: a custom metric is billed only in the hours it gets data
        print(json.dumps(metric_line("DeliveryErrorObjects", len(errors), clock())), flush=True)
    if report.errors or rollups.errors:
        raise CompactionError("; ".join([*report.errors, *rollups.errors][:10]))
    return summary

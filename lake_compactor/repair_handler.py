"""Lambda entry point ``lake_compactor.repair_handler.handler``: repair from the archive.

Two callers:

- **The hourly schedule** (``cdk/repair.py``): repairs the hours that ended between
  ``DELAY_H`` and ``DELAY_H + LOOKBACK_H`` hours ago, and once more the hour that ended
  ``LATE_H`` hours ago. The developer guide ("Standard logging reference", timing of log
  file delivery): CloudFront "usually delivers the log file for that time period to your
  destination within an hour of the events", but "some or all log file entries for a
  time period can sometimes be delayed by up to 24 hours", and then saves them "in a log
  file for which the file name includes the date and time of the period in which the
  requests *occurred*". So an hour is read three times after three hours, and again
  after 26; a rerun adds nothing twice.
- **``ownstats repair --stack``**, with ``{"from": day, "to": day, "apply": bool}``:
  whole days, a dry run unless ``apply``; the per-day counts come back.

``EventsRepaired`` (Embedded Metric Format, printed only when above zero) counts what was
added: something upstream lost those events and the archive healed them; its alarm says
so. Configuration is the environment ``cdk/repair.py`` sets.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from lake_compactor import BUCKET_ENV, PREFIX_ENV
from lake_compactor.metrics import metric_line
from lake_compactor.repair import DayRepair, repair_day
from lake_compactor.store import S3Store

log = logging.getLogger("lake_compactor")
log.setLevel(logging.INFO)

ARCHIVE_BUCKET_ENV = "OWNSTATS_ARCHIVE_BUCKET"
ARCHIVE_PREFIX_ENV = "OWNSTATS_ARCHIVE_PREFIX"
DOMAINS_ENV = "OWNSTATS_DOMAINS"
SALT_PREFIX_ENV = "OWNSTATS_SALT_PREFIX"
#: an hour is repaired once this many hours have passed since it ended
DELAY_H = 3
#: and looked at again by this many hourly runs
LOOKBACK_H = 3
#: and once more this long after it ended: CloudFront may deliver entries up to 24 h late
LATE_H = 26
#: at most this many days per ``ownstats repair`` invocation (the CLI sends one at a time)
MAX_DAYS = 31
#: replaced in tests; epoch seconds
clock = time.time


class RepairError(RuntimeError):
    """Some hours or days could not be repaired in this run (see the log)."""


@cache
def _clients() -> tuple[Any, Any]:
    import boto3

    return boto3.client("s3"), boto3.client("ssm")


def _processor() -> Any:
    """The stream path's own processor: the same steps, the same salts (SSM)."""
    from stream_processor.handler import configured_processor
    from stream_processor.sinks import MemorySink

    _, ssm = _clients()
    return configured_processor(MemorySink(), ssm, clock=clock)


def scheduled_hours(now: float) -> list[tuple[str, int]]:
    """The (day, hour) pairs an hourly run repairs at ``now``: newest first."""
    ended = datetime.fromtimestamp(now, UTC).replace(minute=0, second=0, microsecond=0)
    hours = [ended - timedelta(hours=DELAY_H + n + 1) for n in range(LOOKBACK_H)]
    hours.append(ended - timedelta(hours=LATE_H + 1))
    return [(h.strftime("%Y-%m-%d"), h.hour) for h in hours]


def _days(event: dict[str, Any]) -> list[str]:
    first, last = (
        date.fromisoformat(event["from"]),
        date.fromisoformat(event.get("to") or event["from"]),
    )
    if last < first:
        raise ValueError("'to' is before 'from'")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days per invocation (got {count})")
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    event = event or {}
    s3, _ = _clients()
    archive = S3Store(os.environ[ARCHIVE_BUCKET_ENV], s3)
    lake = S3Store(os.environ[BUCKET_ENV], s3)
    archive_prefix = os.environ.get(ARCHIVE_PREFIX_ENV, "cloudfront/")
    events_prefix = os.environ.get(PREFIX_ENV, "events/")
    asked = "from" in event
    work = Path(tempfile.mkdtemp(prefix="ownstats-repair-"))
    processor = _processor()
    reports: list[DayRepair] = []
    errors: list[str] = []
    try:
        listing = archive.list(archive_prefix)
        targets = [(day, None) for day in _days(event)] if asked else scheduled_hours(clock())
        for day, hour in targets:
            try:
                reports.append(
                    repair_day(
                        archive, lake, day, processor=processor, workdir=work,
                        archive_prefix=archive_prefix, events_prefix=events_prefix,
                        apply=bool(event.get("apply")) if asked else True,
                        listing=listing, hour=hour,
                    )
                )  # fmt: skip
            except Exception as err:  # one day's failure must not stop the others
                log.exception("repair: %s %s", day, hour)
                errors.append(f"{day} {hour}: {type(err).__name__}: {err}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for report in reports:
        log.info(json.dumps({"repair": report.as_dict()}, sort_keys=True))
    added = sum(r.added for r in reports)
    if added:
        # only when above zero: a custom metric is billed only in the hours it gets data
        print(json.dumps(metric_line("EventsRepaired", added, clock())), flush=True)
    if errors and not asked:
        raise RepairError("; ".join(errors[:10]))
    return {"repairs": [r.as_dict() for r in reports], "added": added, "errors": errors}

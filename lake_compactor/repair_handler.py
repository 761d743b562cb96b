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
- **The 15-minute schedule of a stack without the stream** (``-c realtime=false``,
  ``OWNSTATS_INPUT=archive``): the repair is the only input, so it reads the current
  hour and the ``ARCHIVE_LOOKBACK_H`` hours before it on every run (CloudFront delivers
  "up to several times an hour"; each run adds what the files delivered since the last
  one hold), and the hour that ended ``LATE_H`` hours ago on the first run of each hour.
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
from lake_compactor.repair import NEXT_DAY_HOURS, NEXT_HOURS, DayRepair, repair_day
from lake_compactor.store import S3Store

log = logging.getLogger("lake_compactor")
log.setLevel(logging.INFO)

ARCHIVE_BUCKET_ENV = "OWNSTATS_ARCHIVE_BUCKET"
ARCHIVE_PREFIX_ENV = "OWNSTATS_ARCHIVE_PREFIX"
DOMAINS_ENV = "OWNSTATS_DOMAINS"
SALT_PREFIX_ENV = "OWNSTATS_SALT_PREFIX"
#: the collector distribution's id: its log files are named ``<id>.YYYY-MM-DD-HH.…``,
#: so a run lists only the hours it reads instead of the whole archive (30 days of
#: files, up to hundreds an hour on a busy site, on every run)
DISTRIBUTION_ENV = "OWNSTATS_DISTRIBUTION_ID"
#: an hour is repaired once this many hours have passed since it ended
DELAY_H = 3
#: and looked at again by this many hourly runs
LOOKBACK_H = 3
#: and once more this long after it ended: CloudFront may deliver entries up to 24 h late
LATE_H = 26
#: ``OWNSTATS_INPUT``: ``stream`` (the default: the repair heals the real-time path) or
#: ``archive`` (no real-time path: the repair is the input; cdk/repair.py sets it)
INPUT_ENV = "OWNSTATS_INPUT"
#: with the archive as the input, the hours before the current one read on each run
ARCHIVE_LOOKBACK_H = 2
#: and how often it runs (minutes; cdk/repair.py schedules it so)
ARCHIVE_EVERY_MIN = 15
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


def archive_input_hours(now: float) -> list[tuple[str, int]]:
    """The (day, hour) pairs a run reads at ``now`` when the archive is the only input:
    the current hour and the ones before it, newest first, and once an hour the late one."""
    current = datetime.fromtimestamp(now, UTC).replace(minute=0, second=0, microsecond=0)
    hours = [current - timedelta(hours=n) for n in range(ARCHIVE_LOOKBACK_H + 1)]
    if datetime.fromtimestamp(now, UTC).minute < ARCHIVE_EVERY_MIN:
        hours.append(current - timedelta(hours=LATE_H))
    return [(h.strftime("%Y-%m-%d"), h.hour) for h in hours]


def windows(hours: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """Consecutive hours of one day as (day, first, last) windows: each window reads its
    log files and the day's event ids once, where one run per hour would read the
    files between them and the day's ids again for every hour."""
    out: list[tuple[str, int, int]] = []
    for day, hour in sorted(set(hours)):
        if out and out[-1][0] == day and out[-1][2] == hour - 1:
            out[-1] = (day, out[-1][1], hour)
        else:
            out.append((day, hour, hour))
    return out


def _listing(
    archive: S3Store, prefix: str, targets: list[tuple[str, int | None, int | None]]
) -> list[Any]:
    """The archive's objects the targets read: one LIST per hour with the distribution's
    id, else the whole prefix."""
    distribution = os.environ.get(DISTRIBUTION_ENV)
    if not distribution:
        return archive.list(prefix)
    hours: set[datetime] = set()
    for day, first, last in targets:
        start = datetime.fromisoformat(day) + timedelta(hours=first or 0)
        if first is None:
            count = 24 + NEXT_DAY_HOURS
        else:
            count = (last if last is not None else first) - first + 1 + NEXT_HOURS
        hours |= {start + timedelta(hours=n) for n in range(count)}
    found = []
    for hour in sorted(hours):
        found += archive.list(f"{prefix}{distribution}.{hour:%Y-%m-%d-%H}.")
    return found


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
        if asked:
            targets: list[tuple[str, int | None, int | None]] = [
                (day, None, None) for day in _days(event)
            ]
        elif os.environ.get(INPUT_ENV) == "archive":
            targets = list(windows(archive_input_hours(clock())))
        else:
            targets = list(windows(scheduled_hours(clock())))
        listing = _listing(archive, archive_prefix, targets)
        for day, hour, last_hour in targets:
            try:
                reports.append(
                    repair_day(
                        archive, lake, day, processor=processor, workdir=work,
                        archive_prefix=archive_prefix, events_prefix=events_prefix,
                        apply=bool(event.get("apply")) if asked else True,
                        listing=listing, hour=hour, last_hour=last_hour,
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

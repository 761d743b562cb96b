"""What to compact and when: the one compaction policy (pure functions, no I/O).

Inputs are a partition's listing (key, size, modification time) and the clock; the
output is a ``Plan`` naming exactly the objects to rewrite. ``lake_compactor.run``
carries a plan out on S3 or a local directory, so AWS and local mode share every
decision made here.

Two tiers, by age of the day:

- **open day** (today, and yesterday until ``close_after_s`` after midnight): the
  *raw* files (one per Firehose flush) older than ``min_age_s`` are merged into one
  ``compacted-hour-…`` file per run (hourly), so today's partition holds about two
  hours of raw files plus one file per hour instead of up to 1,440 objects. Once
  ``max_open_outputs`` such files exist, that many of the smallest are merged into one.
- **closed day**: everything in the partition is merged into ``compacted-day-…``
  file(s) of one run, sorted as a whole; a day already in that state is left alone,
  and a late file (or a leftover of a crashed run) makes the day be rewritten again.

Objects younger than ``min_age_s`` and objects another compaction still owns
(``busy``: the inputs of a pending manifest) are never part of a plan.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "DAY_TIER",
    "HOUR_TIER",
    "LOCAL_POLICY",
    "MANIFEST_DIR",
    "PARTITION_KEY",
    "Plan",
    "Policy",
    "StoredObject",
    "day_end",
    "output_prefix",
    "partition_of",
    "plan_partition",
    "run_id",
    "tier_of",
]

HOUR_TIER = "hour"
DAY_TIER = "day"
PARTITION_KEY = "event_date"
#: manifests live beside the partitions; Athena's partition projection and the local
#: engine's ``events/*/*.parquet`` never read this folder
MANIFEST_DIR = "_compaction"

#: compacted-<tier>-<UTC time of the run>-<random>-<part>.parquet; never starts with
#: "_" or "." (Athena and Hive skip such files as hidden)
_OUTPUT_NAME = re.compile(
    r"^compacted-(?P<tier>hour|day)-(?P<run>\d{8}T\d{6}Z-[0-9a-f]{8})-\d{3}\.parquet$"
)
_PARTITION = re.compile(rf"^{PARTITION_KEY}=(\d{{4}}-\d{{2}}-\d{{2}})$")


#: how late the stream processor may still deliver an event: it retries a Kinesis record
#: until the record is this old (the event source's maximum record age, which
#: cdk/processor.py reads from here), half the stream's 24 h retention
PROCESSOR_MAX_RECORD_AGE_S = 12 * 3600


@dataclass(frozen=True)
class Policy:
    """Timing and layout of the compaction (defaults = what the AWS stack deploys)."""

    #: objects younger than this are never read: the freshest Firehose deliveries (and
    #: a batch of late files still landing) are left for the next run
    min_age_s: float = 600
    #: a day is closed this long after its end: the processor retries a Kinesis record
    #: until it is 12 h old and Firehose buffers up to 90 s more (a later file reopens
    #: the day: it is merged again, nothing is lost)
    close_after_s: float = PROCESSOR_MAX_RECORD_AGE_S + 2 * 3600
    #: replaced files are deleted only this long after their replacement was committed,
    #: so an Athena query that listed the partition before the swap (30 min is Athena's
    #: default query timeout) still finds every file it planned to read
    delete_grace_s: float = 1800
    #: an intent manifest this old belongs to a run that died (the Lambda's timeout is
    #: 15 min): its partial outputs are removed and its inputs are free again
    stale_intent_s: float = 1800
    #: an open day's raw files are merged once at least this many are old enough
    min_raw_files: int = 2
    #: an open day holding this many hour-tier outputs has this many of the smallest merged
    #: into one (with its raw files), so a writer that triggers runs often (local mode)
    #: cannot pile up outputs; hourly runs on AWS make at most 24 a day plus yesterday's
    #: 8 h, so never
    max_open_outputs: int = 48
    #: output files are cut at about this size (DuckDB's FILE_SIZE_BYTES); a day of
    #: 100 M page views a month is ~200 MB, so one file per day up to there
    target_file_bytes: int = 512 * 1024 * 1024
    #: rows per Parquet row group (DuckDB's default): dictionaries and min/max statistics
    #: are per row group, so a large day has row groups of one site each; bigger groups
    #: compress no better (bench/compaction_bench.py)
    row_group_rows: int = 122_880
    #: zstd level: 9 is as fast as DuckDB's default 3 here and a little smaller; 19 saves
    #: another 15 % but writes ~15x slower, too slow for the largest days in a Lambda
    compression_level: int = 9
    #: sort order of every output file: site first (row groups of one site, min/max
    #: statistics prune other sites), then visitor and time (a visitor's events and a
    #: page view's engagement event sit together: ids and timestamps compress best)
    sort_keys: tuple[str, ...] = ("domain_name", "visitor_id", "event_time")


#: the same policy for a local data directory (``ownstats serve``): LakeSink renames
#: whole files into place, so nothing is in flight; the local engine retries a query
#: whose file vanished, so replaced files may go after a minute; a run is never killed
#: by a timeout, only with its process
LOCAL_POLICY = Policy(
    min_age_s=5, delete_grace_s=60, stale_intent_s=600, min_raw_files=16, max_open_outputs=8
)


@dataclass(frozen=True)
class StoredObject:
    """One object of the lake as a listing shows it."""

    key: str
    size: int
    #: last modification, epoch seconds (S3 LastModified, or the file's mtime)
    modified: float

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Plan:
    """Rewrite ``inputs`` (all in the partition of ``day``) into ``tier`` output(s)."""

    day: str
    tier: str
    inputs: tuple[StoredObject, ...]
    reason: str


def partition_of(key: str, events_prefix: str) -> str | None:
    """``events/event_date=2026-11-28/x.parquet`` → ``2026-11-28``; None if not data."""
    if not key.startswith(events_prefix):
        return None
    parts = key[len(events_prefix) :].split("/")
    if len(parts) != 2 or not parts[1] or parts[1].startswith((".", "_")):
        return None
    match = _PARTITION.match(parts[0])
    return match.group(1) if match else None


def tier_of(obj: StoredObject) -> str | None:
    """``hour`` or ``day`` for a compaction output; None for a raw (Firehose) file."""
    match = _OUTPUT_NAME.match(obj.name)
    return match.group("tier") if match else None


def run_of(obj: StoredObject) -> str | None:
    """The compaction run that wrote ``obj`` (None for a raw file)."""
    match = _OUTPUT_NAME.match(obj.name)
    return match.group("run") if match else None


def run_id(now: float, token: str) -> str:
    """``20261128T100000Z-1a2b3c4d``: sorts by time, unique per run and partition."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{token[:8]}"


def output_prefix(events_prefix: str, day: str, tier: str, run: str) -> str:
    """Key prefix of a run's outputs; part ``NNN.parquet`` follows."""
    return f"{events_prefix}{PARTITION_KEY}={day}/compacted-{tier}-{run}-"


def day_end(day: str) -> float:
    """Epoch seconds of the midnight (UTC) that ends ``day``."""
    start = calendar.timegm(datetime.strptime(day, "%Y-%m-%d").timetuple())
    return start + 86_400


def plan_partition(
    day: str,
    objects: list[StoredObject],
    *,
    now: float,
    policy: Policy,
    busy: frozenset[str] | set[str] = frozenset(),
) -> Plan | None:
    """The rewrite this partition needs now, or None."""
    ready = tuple(
        sorted(
            (o for o in objects if o.key not in busy and now - o.modified >= policy.min_age_s),
            key=lambda o: o.key,
        )
    )
    if now >= day_end(day) + policy.close_after_s:
        day_runs = {run_of(o) for o in ready if tier_of(o) == DAY_TIER}
        others = [o for o in ready if tier_of(o) != DAY_TIER]
        if others:
            return Plan(day, DAY_TIER, ready, f"closed day: {len(others)} file(s) to merge")
        if len(day_runs) > 1:
            return Plan(day, DAY_TIER, ready, f"closed day: outputs of {len(day_runs)} runs")
        return None
    raw = tuple(o for o in ready if tier_of(o) is None)
    hourly = sorted((o for o in ready if tier_of(o) == HOUR_TIER), key=lambda o: (o.size, o.key))
    if len(hourly) >= max(policy.max_open_outputs, 2):
        # size-tiered: the smallest outputs merge into one of about their joint size, so
        # a large output is rewritten only once as many others have grown as large
        # (each event rewritten a logarithmic number of times, not once per merge)
        smallest = hourly[: max(policy.max_open_outputs, 2)]
        inputs = tuple(sorted([*smallest, *raw], key=lambda o: o.key))
        return Plan(day, HOUR_TIER, inputs, f"open day: {len(smallest)} outputs to merge")
    if len(raw) >= max(policy.min_raw_files, 1):
        return Plan(day, HOUR_TIER, raw, f"open day: {len(raw)} raw file(s)")
    return None

"""Compaction of the events lake: many small Parquet objects become few large ones.

Where it sits: after Firehose (AWS) or ``LakeSink`` (local mode) has written a
partition ``events/event_date=YYYY-MM-DD/`` as one small file per flush, and before
Athena/DuckDB read it. It rewrites a partition's files into sorted, deduplicated,
zstd-compressed Parquet with the events schema, and removes the small files only
once the rewrite is verified and a grace period has passed.

- ``policy``: what to compact and when (pure functions, no I/O; shared by AWS and
  local mode).
- ``merge``: the rewrite itself, with DuckDB (the only dependency the Lambda bundles).
- ``store``: objects in S3 (``S3Store``) or in a local data directory (``LocalStore``).
- ``run``: the crash-safe protocol (intent manifest → outputs → commit → delayed
  deletion) over a store.
- ``validate``: whether an object is an events file at all; bad ones go to quarantine/.
- ``handler``: the Lambda entry point ``lake_compactor.handler.handler``.

The protocol and why each step is safe: docs/DEPLOY.md, "Compaction".
"""

from __future__ import annotations

#: the environment the stack gives the Lambda (``cdk/compaction.py`` sets, ``handler`` reads)
BUCKET_ENV = "OWNSTATS_LAKE_BUCKET"
PREFIX_ENV = "OWNSTATS_EVENTS_PREFIX"
#: the ``service`` dimension of the compactor's metric (the processor's, so one alarm set)
SERVICE_ENV = "OWNSTATS_SERVICE"
#: the sites' time zones (``-c time_zone``, the dashboard's setting): their local days
#: are rolled up too (``lake_compactor.zoned_rollups``)
TIME_ZONE_ENV = "OWNSTATS_TIME_ZONE"
#: where Firehose writes the records it could not convert or partition, in the lake
#: bucket (read by `ownstats replay-errors`, expired after ERRORS_RETENTION_DAYS)
ERRORS_PREFIX = "errors/"
ERRORS_RETENTION_DAYS = 365
#: each run counts the errors/ objects written in this many seconds before it
#: (``DeliveryErrorObjects``): twice the hourly schedule, so a late or skipped run misses
#: none; an object is then counted by two runs, which only keeps the alarm on longer
ERRORS_LOOKBACK_S = 2 * 3600
#: the rollups (one Parquet object per view and month) and their index, in the lake bucket
ROLLUPS_PREFIX = "rollups/"
ROLLUPS_INDEX_KEY = f"{ROLLUPS_PREFIX}_index.json"
#: the CloudWatch namespace of ownstats' own metrics (Embedded Metric Format)
METRICS_NAMESPACE = "ownstats"

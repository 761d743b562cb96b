"""Lake compaction on S3 (moto), through the Lambda handler the CDK template names.

The lake holds what Firehose leaves: many small Parquet files per partition written
with the events schema (Snappy; half with Firehose's INT96 timestamps), a redelivered
copy of a file, a partly redelivered batch, a file still arriving, and later a late
file for a closed day. After each run the views (ownstats.engine over a copy of the
bucket: the same view SQL Athena runs) must show exactly the numbers of the
uncompacted lake, and in the end every event is stored once.

Crashes are injected with ``lake_compactor.run.checkpoint``, which the protocol calls
after every step that changes the bucket: the run dies right there (a BaseException,
so no cleanup code runs, as when Lambda times out or is killed).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

import lake_compactor.handler as handler_module
import lake_compactor.roll_up as roll_up_module
import lake_compactor.run as run_module
from cdk.compaction import HANDLER
from lake_compactor import BUCKET_ENV, ERRORS_LOOKBACK_S, PREFIX_ENV
from lake_compactor.handler import CompactionError
from lake_compactor.policy import Policy
from ownstats.engine import Engine
from ownstats.lake import EVENTS_SCHEMA
from stream_processor.schema import COLUMN_NAMES
from tests.rollup_checks import assert_rollups_equal_views

BUCKET = "ownstats-lake"
EVENTS = "events/"
CLOSED = ("2026-03-01", "2026-03-02")
POLICY = Policy()
GRACE = POLICY.delete_grace_s + 60
FILES_PER_DAY = 24
ROWS_PER_FILE = 15


class Crash(BaseException):
    """The run dies here: not an Exception, so no ``except Exception`` cleanup runs."""


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def event_rows(day: str, count: int, rng: random.Random, first: int) -> list[dict[str, Any]]:
    """Events of a few visitors over the day: page views with engagement and goals."""
    midnight = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
    rows = []
    for n in range(first, first + count):
        kind = rng.choice(("pageview", "pageview", "engagement", "event"))
        rows.append(
            {
                "event_id": hashlib.blake2b(f"{day}/{n}".encode(), digest_size=8).hexdigest(),
                "event_time": datetime.fromtimestamp(
                    (midnight + n * 37_000 + rng.randint(0, 999)) / 1000, UTC
                ).replace(tzinfo=None),
                "event_type": kind,
                "event_name": "Signup" if kind == "event" else None,
                "props": [("plan", rng.choice(("free", "pro")))] if kind == "event" else None,
                "domain_name": rng.choice(("example.com", "example.com", "blog.example.org")),
                "page_path": rng.choice(("/", "/pricing", "/blog/a", "/docs")),
                "page_id": f"{rng.getrandbits(64):016x}",
                "source": rng.choice(("Direct / None", "Google", "Hacker News")),
                "channel": "Direct",
                "browser_name": rng.choice(("Chrome", "Safari", "Firefox")),
                "os_name": "Linux",
                "device_type": rng.choice(("desktop", "mobile")),
                "screen_width": 1920,
                "country_code": rng.choice(("DE", "US", None)),
                "edge_latitude": 50.03,
                "visitor_id": f"{rng.randrange(12):016x}",
                "engagement_ms": rng.randint(500, 90_000) if kind == "engagement" else None,
            }
        )
    return rows


def parquet_bytes(rows: list[dict[str, Any]], *, int96: bool) -> bytes:
    """A Parquet file with the events schema, as Firehose writes one per flush."""
    table = pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy", use_deprecated_int96_timestamps=int96)
    return sink.getvalue().to_pybytes()


@dataclass
class Lake:
    s3: Any
    tmp: Path
    handler: Callable[[Any, Any], dict[str, Any]]
    base: float = field(default_factory=time.time)

    def put(self, day: str, name: str, rows: list[dict[str, Any]], int96: bool = False) -> str:
        key = f"{EVENTS}event_date={day}/{name}"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=parquet_bytes(rows, int96=int96))
        return key

    def listing(self, prefix: str = EVENTS) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def run(self, at: float, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        """One scheduled invocation with the clock at ``base + at`` seconds."""
        monkeypatch.setattr(handler_module, "clock", lambda: self.base + at)
        return self.handler({"source": "aws.events"}, FakeContext())

    def assert_rollups_current(self, name: str) -> None:
        """The bucket's rollups equal the views over its events (a copy of both)."""
        root = self.tmp / name
        for key in self.listing(EVENTS) + self.listing("rollups/"):
            if key.startswith(f"{EVENTS}_compaction/"):
                continue
            target = root / (key if key.endswith((".parquet", ".json")) else f"{key}.parquet")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.s3.download_file(BUCKET, key, str(target))
        assert_rollups_equal_views(root)

    def snapshot(self, name: str) -> dict[str, Any]:
        """The raw table and the views over a copy of the bucket (same view SQL)."""
        root = self.tmp / name
        for key in self.listing():
            if not key.startswith(f"{EVENTS}_compaction/"):
                # Athena reads every object of a partition; the local engine wants the
                # extension Firehose's names may lack
                target = root / (key if key.endswith(".parquet") else f"{key}.parquet")
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(BUCKET, key, str(target))
        (root / "events").mkdir(parents=True, exist_ok=True)
        with Engine(root, materialize=False) as engine:

            def q(sql: str) -> Any:
                # sums of doubles depend on the order rows are read in: compare rounded
                result = engine.query(sql)
                result.rows[:] = [
                    tuple(round(v, 6) if isinstance(v, float) else v for v in row)
                    for row in result.rows
                ]
                return result

            return {
                "raw": q("SELECT count(*) FROM events").rows[0][0],
                "distinct": q("SELECT count(DISTINCT event_id) FROM events").rows[0][0],
                "deduped": q("SELECT count(*) FROM events_deduped").rows[0][0],
                "ids": {r[0] for r in q("SELECT event_id FROM events_deduped").rows},
                "daily": q(
                    "SELECT event_date, domain_name, visitors, visits, pageviews, bounces, "
                    "total_visit_duration_s FROM daily_stats ORDER BY 1, 2"
                ).rows,
                "pages": q(
                    "SELECT event_date, domain_name, page_path, visitors, pageviews, "
                    "avg_time_on_page_s FROM top_pages ORDER BY 1, 2, 3"
                ).rows,
                "goals": q(
                    "SELECT event_date, domain_name, event_name, visitors, events "
                    "FROM custom_events ORDER BY 1, 2, 3"
                ).rows,
            }


class FakeContext:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


VIEWS = ("deduped", "ids", "daily", "pages", "goals")


def changed_views(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The views whose rows differ between two snapshots (with the first differing row)."""
    changed = []
    for name in VIEWS:
        if a[name] != b[name]:
            rows = [(x, y) for x, y in zip(a[name], b[name], strict=False) if x != y]
            changed.append(f"{name}: {rows[:1] if isinstance(a[name], list) else '…'}")
    return changed


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Lake]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv(BUCKET_ENV, BUCKET)
    monkeypatch.setenv(PREFIX_ENV, EVENTS)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    module_name, function_name = HANDLER.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        monkeypatch.setattr(handler_module, "_client", s3)
        lake = Lake(s3=s3, tmp=tmp_path, handler=handler)
        rng = random.Random(7)
        for day in (*CLOSED, today()):
            for number in range(FILES_PER_DAY):
                rows = event_rows(day, ROWS_PER_FILE, rng, number * ROWS_PER_FILE)
                lake.put(day, f"ownstats-events-1-{day}-{number:04d}", rows, int96=number % 2 == 0)
        # at-least-once delivery: a whole flush delivered twice, and part of a batch
        lake.put(CLOSED[0], "ownstats-events-1-redelivered", event_rows(CLOSED[0], 15, rng, 45))
        lake.put(today(), "ownstats-events-1-retried", event_rows(today(), 5, rng, 100))
        yield lake


def crash_at(monkeypatch: pytest.MonkeyPatch, *steps: str) -> list[str]:
    """Kill the run at the first occurrence of each step, in turn; returns what was hit."""
    pending = list(steps)
    hit: list[str] = []

    def checkpoint(step: str) -> None:
        if pending and step == pending[0]:
            hit.append(pending.pop(0))
            raise Crash(step)

    monkeypatch.setattr(run_module, "checkpoint", checkpoint)
    monkeypatch.setattr(roll_up_module, "checkpoint", checkpoint)
    return hit


def assert_converged(lake: Lake, baseline: dict[str, Any]) -> None:
    """Every event once, views unchanged, one file per closed day, no manifest."""
    final = lake.snapshot("final")
    assert changed_views(final, baseline) == []
    assert final["raw"] == final["distinct"] == baseline["distinct"]
    assert lake.listing(f"{EVENTS}_compaction/") == []
    lake.assert_rollups_current("final-rollups")
    for day in CLOSED:
        (only,) = lake.listing(f"{EVENTS}event_date={day}/")
        assert only.rsplit("/", 1)[1].startswith("compacted-day-")
    for key in lake.listing(f"{EVENTS}event_date={today()}/"):
        assert key.rsplit("/", 1)[1].startswith("compacted-hour-")


# -- the whole life of a lake -------------------------------------------------------------


def test_compaction_keeps_every_event_once_and_the_views_unchanged(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = lake.snapshot("before")
    assert baseline["raw"] == 3 * FILES_PER_DAY * ROWS_PER_FILE + 15 + 5
    assert baseline["distinct"] == baseline["deduped"] == 3 * FILES_PER_DAY * ROWS_PER_FILE
    inputs = set(lake.listing())

    first = lake.run(3600, monkeypatch)
    assert {c["day"]: c["tier"] for c in first["compacted"]} == {
        CLOSED[0]: "day", CLOSED[1]: "day", today(): "hour",
    }  # fmt: skip
    assert sum(c["rows"] for c in first["compacted"]) == baseline["distinct"]
    assert first["deleted_inputs"] == 0  # never in the run that wrote the copies

    # the swap: inputs and their compacted copies are both in the bucket; the raw
    # table counts those events twice, no view does
    during = lake.snapshot("during")
    assert inputs <= set(lake.listing())
    assert during["raw"] == baseline["raw"] + baseline["distinct"]
    assert changed_views(during, baseline) == []

    second = lake.run(3600 + GRACE, monkeypatch)
    assert second["deleted_inputs"] == len(inputs) and second["compacted"] == []
    assert not inputs & set(lake.listing())
    assert_converged(lake, baseline)

    # idempotent: another run (now or much later) changes nothing
    before = lake.listing()
    assert lake.run(3600 + GRACE, monkeypatch)["compacted"] == []
    assert lake.run(3600 + 3 * GRACE, monkeypatch)["compacted"] == []
    assert lake.listing() == before


def test_output_files_are_sorted_zstd_with_the_events_schema(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.run(3600, monkeypatch)
    (key,) = [k for k in lake.listing(f"{EVENTS}event_date={CLOSED[0]}/") if "compacted-" in k]
    path = lake.tmp / "out.parquet"
    lake.s3.download_file(BUCKET, key, str(path))
    parquet = pq.ParquetFile(path)
    assert parquet.schema_arrow.names == list(COLUMN_NAMES)
    assert parquet.schema_arrow.field("event_time").type == pa.timestamp("ms")
    assert parquet.schema_arrow.field("props").type == pa.map_(pa.string(), pa.string())
    column = parquet.metadata.row_group(0).column(0)
    assert column.compression == "ZSTD"
    table = parquet.read()
    keys = list(zip(*(table.column(k).to_pylist() for k in POLICY.sort_keys), strict=True))
    assert keys == sorted(keys)
    ids = table.column("event_id").to_pylist()
    assert len(ids) == len(set(ids)) == FILES_PER_DAY * ROWS_PER_FILE


# -- files that are not the compactor's to touch ------------------------------------------


def test_young_files_and_deliveries_during_a_run_are_never_touched(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = lake.snapshot("before")
    # a flush Firehose delivers while the run is working on the same partition
    arrived: list[str] = []
    rng = random.Random(3)

    def checkpoint(step: str) -> None:
        if step == "intent_written" and not arrived:
            rows = event_rows(today(), 10, rng, 5000)
            arrived.append(lake.put(today(), "ownstats-events-1-during-the-run", rows))

    monkeypatch.setattr(run_module, "checkpoint", checkpoint)
    lake.run(3600, monkeypatch)
    monkeypatch.setattr(run_module, "checkpoint", lambda step: None)
    # it was not in the listing: no manifest names it, the deletions leave it alone
    lake.run(3600 + GRACE, monkeypatch)
    assert arrived[0] in lake.listing()
    # a file written a minute ago is younger than min_age: not read, not deleted
    young = lake.put(today(), "ownstats-events-1-young", event_rows(today(), 10, rng, 6000))
    fresh = time.time() - lake.base + 60
    lake.run(fresh, monkeypatch)
    lake.run(fresh + GRACE, monkeypatch)
    assert young in lake.listing()
    # once old enough both are compacted like any other file: no event lost
    lake.run(fresh + GRACE + POLICY.min_age_s, monkeypatch)
    lake.run(fresh + 2 * GRACE + POLICY.min_age_s, monkeypatch)
    final = lake.snapshot("final")
    added = {r["event_id"] for n in (5000, 6000) for r in event_rows(today(), 10, rng, n)}
    assert final["ids"] == baseline["ids"] | added
    assert final["raw"] == final["distinct"] == final["deduped"] == baseline["deduped"] + 20
    assert young not in lake.listing() and arrived[0] not in lake.listing()


def test_a_late_file_for_a_closed_day_is_merged_into_it(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.run(3600, monkeypatch)
    lake.run(3600 + GRACE, monkeypatch)
    compacted = lake.snapshot("compacted")
    # a Kinesis record retried for hours, or a replay: events of a closed day arrive
    late_rows = event_rows(CLOSED[1], 7, random.Random(11), 9000)
    late_rows.append(event_rows(CLOSED[1], 1, random.Random(7), 3)[0])  # and a duplicate
    late = lake.put(CLOSED[1], "ownstats-events-1-late", late_rows)
    arrived = time.time() - lake.base
    during = lake.snapshot("late")
    assert during["deduped"] == compacted["deduped"] + 7

    report = lake.run(arrived + POLICY.min_age_s + 60, monkeypatch)
    assert [(c["day"], c["tier"], c["inputs"]) for c in report["compacted"]] == [
        (CLOSED[1], "day", 2)
    ]
    lake.run(arrived + POLICY.min_age_s + 60 + GRACE, monkeypatch)
    assert late not in lake.listing()
    final = lake.snapshot("final")
    assert changed_views(final, during) == []
    assert final["raw"] == final["deduped"] == compacted["deduped"] + 7
    (only,) = lake.listing(f"{EVENTS}event_date={CLOSED[1]}/")
    assert "compacted-day-" in only


# -- crashes at every step ----------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        ("intent_written",),
        ("output_written",),
        ("committed",),
        ("inputs_deleted",),
        ("manifest_deleted",),
        ("output_written", "outputs_rolled_back"),
        ("intent_written", "manifest_deleted", "committed", "inputs_deleted"),
        # the rollup step: between a month object and the index, and after the index
        ("rollup_written",),
        ("committed", "rollup_written", "index_written"),
    ],
    ids="+".join,
)
def test_a_crash_at_any_step_loses_nothing_and_a_rerun_finishes(
    lake: Lake, monkeypatch: pytest.MonkeyPatch, steps: tuple[str, ...]
) -> None:
    baseline = lake.snapshot("before")
    hit = crash_at(monkeypatch, *steps)
    # runs a grace period apart, each followed by the retry Lambda makes a minute after a
    # failed invocation: enough for the longest history here to converge
    schedule = [3600 + grace + retry for grace in (0, GRACE, 2 * GRACE) for retry in (0, 60)]
    for number, at in enumerate(schedule):
        with contextlib.suppress(Crash):
            lake.run(at, monkeypatch)
        state = lake.snapshot(f"run{number}")
        # whatever died where: every event is still stored, no view counts one twice
        assert changed_views(state, baseline) == [], f"views changed after run {number} ({hit})"
        assert state["raw"] >= state["distinct"] == baseline["distinct"]
    assert hit == list(steps)
    assert_converged(lake, baseline)


def test_an_input_is_never_deleted_when_its_copy_is_missing(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = lake.snapshot("before")
    inputs = set(lake.listing(f"{EVENTS}event_date={CLOSED[0]}/"))
    lake.run(3600, monkeypatch)
    (copy,) = [k for k in lake.listing(f"{EVENTS}event_date={CLOSED[0]}/") if "compacted-" in k]
    lake.s3.delete_object(Bucket=BUCKET, Key=copy)  # someone deleted the compacted file
    with pytest.raises(CompactionError, match="outputs missing"):
        lake.run(3600 + GRACE, monkeypatch)
    assert changed_views(lake.snapshot("kept"), baseline) == []
    assert inputs <= set(lake.listing())  # every input kept, and compacted again at once
    lake.run(3600 + 2 * GRACE, monkeypatch)
    assert not inputs & set(lake.listing())
    assert_converged(lake, baseline)


def test_a_run_short_of_time_defers_partitions_to_the_next(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Hurried(FakeContext):
        def get_remaining_time_in_millis(self) -> int:
            return 60_000  # under the 4 minutes a partition may need

    monkeypatch.setattr(handler_module, "clock", lambda: lake.base + 3600)
    report = lake.handler({}, Hurried())
    assert report["compacted"] == [] and sorted(report["deferred"]) == sorted([*CLOSED, today()])


# -- damaged and foreign objects -------------------------------------------------------------


def damaged_objects(rng: random.Random) -> dict[str, bytes]:
    """What can land in a partition besides Firehose's files, by name."""
    good = parquet_bytes(event_rows(CLOSED[0], 15, rng, 5_000), int96=False)
    middle = len(good) // 3
    # the footer intact, a data page overwritten: only a full read finds it
    bad_page = good[:middle] + bytes(rng.getrandbits(8) for _ in range(200)) + good[middle + 200 :]
    as_text = pa.table(
        {"event_id": ["x1"], "event_time": ["2026-03-01 10:00"], "event_type": ["pageview"],
         "domain_name": ["example.com"]}
    )  # fmt: skip
    without_id = pa.table(
        {"event_time": pa.array([datetime(2026, 3, 1, 10)], pa.timestamp("ms")),
         "event_type": ["pageview"], "domain_name": ["example.com"]}
    )  # fmt: skip
    out = {}
    for name, table in (("time-as-text", as_text), ("no-event-id", without_id)):
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        out[name] = sink.getvalue().to_pybytes()
    return {
        "zero-bytes": b"",
        "random": bytes(rng.getrandbits(8) for _ in range(4096)),
        "half-copied": good[: len(good) // 2],
        "damaged-page": bad_page,
        **out,
    }


def test_damaged_objects_are_quarantined_and_the_rest_compacted(
    lake: Lake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = lake.snapshot("before")
    bad = damaged_objects(random.Random(11))
    for name, body in bad.items():
        lake.s3.put_object(Bucket=BUCKET, Key=f"{EVENTS}event_date={CLOSED[0]}/{name}", Body=body)
    with pytest.raises(CompactionError) as raised:  # the failure alarm's signal
        lake.run(3600, monkeypatch)
    assert "moved to quarantine/" in str(raised.value)
    metrics = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    quarantined = [m["ObjectsQuarantined"] for m in metrics if "ObjectsQuarantined" in m]
    assert quarantined == [len(bad)]  # LakeQuarantineAlarm
    assert lake.listing("quarantine/") == sorted(
        f"quarantine/{EVENTS}event_date={CLOSED[0]}/{name}" for name in bad
    )
    lake.run(3600 + GRACE, monkeypatch)  # deletes what the first run replaced
    assert_converged(lake, baseline)


def emitted(capsys: pytest.CaptureFixture[str], name: str) -> list[int]:
    out = capsys.readouterr().out.splitlines()
    return [m[name] for m in (json.loads(x) for x in out if '"_aws"' in x) if name in m]


def test_records_firehose_could_not_deliver_raise_an_alarm(
    lake: Lake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Firehose's metrics count conversion failures but not records it could not
    partition; both end under errors/, which each run counts (LakeDeliveryErrorsAlarm)."""
    lake.run(3600, monkeypatch)
    assert emitted(capsys, "DeliveryErrorObjects") == []  # billed only when above zero
    day = datetime.fromtimestamp(lake.base, UTC).strftime("%Y-%m-%d")
    for kind in ("format-conversion-failed", "partitioning-failed"):
        key = f"errors/{kind}/{day}/ownstats-lake-1-{kind}"
        lake.s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"rawData": "e30="}\n')
    lake.run(3600, monkeypatch)
    assert emitted(capsys, "DeliveryErrorObjects") == [2]
    lake.run(3600 + ERRORS_LOOKBACK_S + 60, monkeypatch)  # two hourly runs later: counted
    assert emitted(capsys, "DeliveryErrorObjects") == []

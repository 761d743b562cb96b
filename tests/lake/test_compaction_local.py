"""The compactor's rewrite (DuckDB) and its protocol on a local data directory.

The same ``lake_compactor.run.compact`` that the Lambda runs on S3 runs here on the
local lake ``LakeSink`` writes (``LocalStore``), which is how local mode can share the
policy and the code.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake_compactor.merge import MergeError, merge
from lake_compactor.policy import LOCAL_POLICY, Policy
from lake_compactor.run import compact
from lake_compactor.store import LocalStore
from ownstats.engine import Engine
from ownstats.lake import EVENTS_SCHEMA, LakeSink, partition_files
from stream_processor.schema import COLUMN_NAMES

if TYPE_CHECKING:  # conftest is not importable under importlib mode
    from conftest import EventFactory

DAY1 = "2026-03-01"
POLICY = Policy()


def write(path: Path, events: list[dict[str, Any]], **options: Any) -> Path:
    rows = [{k: v for k, v in e.items() if k in EVENTS_SCHEMA.names} for e in events]
    for row in rows:
        row["event_time"] = datetime.fromtimestamp(row["event_time"] / 1000, UTC).replace(
            tzinfo=None
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA), path, **options)
    return path


def read(paths: list[Path]) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in paths])


# -- the rewrite --------------------------------------------------------------------------


def test_merge_reads_firehose_and_older_files_and_writes_the_events_schema(
    tmp_path: Path, make_event: EventFactory
) -> None:
    events = [make_event() for _ in range(30)]
    firehose = write(tmp_path / "in" / "a", events[:10], use_deprecated_int96_timestamps=True)
    local = write(tmp_path / "in" / "b.parquet", events[10:20])
    # written before engagement_ms and scroll_depth existed: read as NULL
    older = tmp_path / "in" / "c.parquet"
    table = pq.read_table(write(older, events[20:])).drop_columns(["scroll_depth"])
    pq.write_table(table, older)

    result = merge(
        [firehose, local, older], tmp_path / "out", policy=POLICY, temp_dir=tmp_path / "spill"
    )
    assert (result.input_rows, result.rows) == (30, 30)
    (output,) = result.outputs
    parquet = pq.ParquetFile(output.path)
    assert parquet.schema_arrow.names == list(COLUMN_NAMES)
    types = dict(zip(parquet.schema_arrow.names, parquet.schema_arrow.types, strict=True))
    assert types["event_time"] == pa.timestamp("ms")
    assert types["props"] == pa.map_(pa.string(), pa.string())
    assert types["screen_width"] == pa.int32() and types["edge_latitude"] == pa.float64()
    out = parquet.read()
    assert sorted(out.column("event_id").to_pylist()) == sorted(e["event_id"] for e in events)
    times = {r["event_id"]: r["event_time"] for r in out.to_pylist()}
    for e in events:
        assert times[e["event_id"]] == datetime.fromtimestamp(e["event_time"] / 1000, UTC).replace(
            tzinfo=None
        )


def test_merge_keeps_the_copy_the_view_keeps_and_every_row_without_an_id(
    tmp_path: Path, make_event: EventFactory
) -> None:
    first = make_event(visitor_id="b" * 16)
    # the same edge request stored twice: events_deduped keeps the earliest event_time,
    # then the smallest visitor_id (a replay after the salt was gone has another one)
    copy = {**first, "visitor_id": "a" * 16, "page_path": "/copy"}
    later = {**first, "event_time": first["event_time"] + 5, "visitor_id": "0" * 16}
    no_id = [make_event(event_id=None), make_event(event_id=None)]
    inputs = [
        write(tmp_path / "in" / "1.parquet", [first, *no_id]),
        write(tmp_path / "in" / "2.parquet", [copy, later]),
    ]
    result = merge(inputs, tmp_path / "out", policy=POLICY, temp_dir=tmp_path / "spill")
    rows = read([o.path for o in result.outputs]).to_pylist()
    assert (result.input_rows, result.rows) == (5, 3)
    kept = [r for r in rows if r["event_id"] == first["event_id"]]
    assert [(r["visitor_id"], r["page_path"]) for r in kept] == [("a" * 16, "/copy")]
    assert sum(r["event_id"] is None for r in rows) == 2


def test_merge_cuts_large_output_into_files_in_sort_order(
    tmp_path: Path, make_event: EventFactory
) -> None:
    events = [make_event(domain_name=d, visitor_id=f"{n % 50:016x}", page_path=f"/{n}")
              for n in range(2500) for d in ("b.example", "a.example")]  # fmt: skip
    source = write(tmp_path / "in" / "all.parquet", events)
    small = Policy(target_file_bytes=4_000, row_group_rows=2048)
    result = merge([source], tmp_path / "out", policy=small, temp_dir=tmp_path / "spill")
    assert len(result.outputs) > 1
    keys = [
        tuple(row[k] for k in (*small.sort_keys, "event_id"))
        for output in result.outputs
        for row in pq.read_table(output.path).to_pylist()
    ]
    assert keys == sorted(keys) and len(keys) == 5000
    metadata = pq.ParquetFile(result.outputs[0].path).metadata
    assert metadata.row_group(0).num_rows <= 2048  # DuckDB counts in vectors of 2,048
    group = metadata.row_group(0)
    (column,) = [group.column(i) for i in range(group.num_columns)
                 if group.column(i).path_in_schema == "domain_name"]  # fmt: skip
    assert column.compression == "ZSTD"
    assert column.statistics.min == column.statistics.max == "a.example"  # prunes by site


def test_merge_refuses_what_is_not_events(tmp_path: Path) -> None:
    other = tmp_path / "in" / "x.parquet"
    other.parent.mkdir()
    pq.write_table(pa.table({"a": [1, 2]}), other)
    with pytest.raises(MergeError, match="event_id"):
        merge([other], tmp_path / "out", policy=POLICY, temp_dir=tmp_path / "spill")


# -- the protocol on the local lake -------------------------------------------------------


def test_the_local_lake_compacts_with_the_same_protocol(
    tmp_path: Path, make_event: EventFactory
) -> None:
    with LakeSink(tmp_path, compact_threshold=10_000) as sink:  # LakeSink's own merge off
        for _ in range(12):
            sink.put([make_event() for _ in range(5)])
            sink.flush()
        sink.put([make_event(event_id="req-000001")])  # a redelivered event
    raw = partition_files(tmp_path, DAY1)
    assert len(raw) == 13
    (tmp_path / "events" / f"event_date={DAY1}" / ".part-being-written.tmp").write_bytes(b"x")
    with Engine(tmp_path, materialize=False) as engine:
        before = engine.query("SELECT * FROM daily_stats").rows

    now = time.time() + 60  # the files were written just now; DAY1 is long closed
    store = LocalStore(tmp_path)
    work = tmp_path / ".compaction"  # beside events/, never inside it
    first = compact(store, workdir=work, policy=LOCAL_POLICY, clock=lambda: now)
    assert [(c["tier"], c["inputs"], c["rows"]) for c in first.compacted] == [("day", 13, 60)]
    assert len(partition_files(tmp_path, DAY1)) == 14  # inputs stay until the grace is over
    assert compact(store, workdir=work, policy=LOCAL_POLICY, clock=lambda: now + 30).compacted == []
    assert len(partition_files(tmp_path, DAY1)) == 14
    second = compact(store, workdir=work, policy=LOCAL_POLICY, clock=lambda: now + 61)
    assert second.deleted_inputs == 13
    (only,) = partition_files(tmp_path, DAY1)
    assert only.name.startswith("compacted-day-")
    assert (only.parent / ".part-being-written.tmp").exists()  # never touched
    assert not list((tmp_path / "events" / "_compaction").iterdir())
    with Engine(tmp_path, materialize=False) as engine:
        assert engine.query("SELECT * FROM daily_stats").rows == before
        assert engine.query("SELECT count(*) FROM events").rows == [(60,)]


def test_one_compaction_of_a_lake_at_a_time_across_processes(
    tmp_path: Path, make_event: EventFactory
) -> None:
    """serve and an ingest into the same lake each compacting: before, both merged the
    same inputs and the raw events table showed 115,490 rows for 32,368 events."""
    import fcntl
    import os

    data = tmp_path / "lake"
    with LakeSink(data, background_compaction=False) as sink:
        for i in range(6):
            sink.put([make_event(DAY1, page_path=f"/{i}")])
            sink.flush()
        lock = data / ".compaction" / "lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process is compacting
        try:
            assert sink._run_compaction(sink.compaction_policy, wait=False).compacted == []
            assert len(partition_files(data, DAY1)) == 6
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        assert sink.compact() == 6
    assert len(partition_files(data, DAY1)) == 1

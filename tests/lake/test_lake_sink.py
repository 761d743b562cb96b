"""LakeSink: Firehose's layout and schema, atomic files, compaction, and failures that are
reported, never silently lost."""

from __future__ import annotations

import calendar
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lake_compactor.policy import LOCAL_POLICY
from ownstats import lake
from ownstats.lake import (
    EVENTS_SCHEMA,
    LakeSink,
    LakeWriteError,
    arrow_type,
    partition_dir,
    partition_files,
)
from stream_processor.schema import COLUMN_NAMES, EVENT_COLUMNS

if TYPE_CHECKING:  # conftest is not importable under importlib mode
    from conftest import EventFactory

DAY1 = "2026-03-01"
DAY2 = "2026-03-02"


def read_day(data_dir: Path, day: str) -> pa.Table:
    files = partition_files(data_dir, day)
    return (
        # a compacted file (DuckDB's) marks required columns NOT NULL, a flush's does not
        pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
        if files
        else EVENTS_SCHEMA.empty_table()
    )


def all_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "events").rglob("*") if p.is_file())


def test_schema_is_derived_from_the_events_schema() -> None:
    assert EVENTS_SCHEMA.names == list(COLUMN_NAMES)  # no event_date inside the files
    types = dict(zip(EVENTS_SCHEMA.names, EVENTS_SCHEMA.types, strict=True))
    assert types["event_time"] == pa.timestamp("ms")
    assert types["props"] == pa.map_(pa.string(), pa.string())
    assert types["screen_width"] == pa.int32()
    assert types["edge_latitude"] == pa.float64()
    assert all(arrow_type(glue) == types[name] for name, glue, _ in EVENT_COLUMNS)
    with pytest.raises(ValueError, match="Glue type"):
        arrow_type("struct<a:int>")


def test_writes_firehose_layout(tmp_path: Path, make_event: EventFactory) -> None:
    events = [make_event(DAY1, props={"plan": "pro"}), make_event(DAY2), make_event(DAY1)]
    with LakeSink(tmp_path) as sink:
        assert sink.put(events) == []
        assert sink.pending == 3  # buffered until due or flushed
    files = all_files(tmp_path)
    assert [f.parent.name for f in files] == ["event_date=2026-03-01", "event_date=2026-03-02"]
    assert all(f.suffix == ".parquet" for f in files)
    table = read_day(tmp_path, DAY1)
    assert table.schema.names == list(COLUMN_NAMES)
    rows = table.to_pylist()
    assert [r["event_id"] for r in rows] == [events[0]["event_id"], events[2]["event_id"]]
    assert rows[0]["props"] == [("plan", "pro")]
    assert rows[0]["event_time"].timestamp() * 1000 == pytest.approx(events[0]["event_time"])


def test_flushes_when_buffer_is_full_or_old(tmp_path: Path, make_event: EventFactory) -> None:
    now = [0.0]
    sink = LakeSink(tmp_path, max_buffer_rows=3, max_buffer_age_s=1.0, clock=lambda: now[0])
    sink.put([make_event(), make_event()])
    assert sink.pending == 2 and not all_files(tmp_path)
    sink.put([make_event()])  # the third row fills the buffer
    assert sink.pending == 0 and len(all_files(tmp_path)) == 1
    sink.put([make_event()])
    now[0] = 1.5
    sink.put([])  # any put after the age limit writes
    assert sink.pending == 0 and len(all_files(tmp_path)) == 2
    sink.close()


def test_autoflush_makes_events_visible_without_further_puts(
    tmp_path: Path, make_event: EventFactory
) -> None:
    with LakeSink(tmp_path, autoflush_s=0.02) as sink:
        sink.put([make_event()])
        for _ in range(200):
            if all_files(tmp_path):
                break
            threading.Event().wait(0.01)
        assert len(all_files(tmp_path)) == 1


def test_invalid_events_are_reported_and_valid_ones_kept(
    tmp_path: Path, make_event: EventFactory
) -> None:
    events = [
        make_event(),
        make_event(event_id=None),  # no dedupe key
        make_event(event_time="yesterday"),
        make_event(screen_width=2**40),  # out of int32
        make_event(props={"n": 1}),  # map values are strings
        make_event(event_date="01/03/2026"),
        make_event(),
    ]
    with LakeSink(tmp_path) as sink:
        assert sink.put(events) == [1, 2, 3, 4, 5]
    assert read_day(tmp_path, DAY1).num_rows == 2


def _row_column_by_column(event: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """``lake._to_row`` as it was: ``_check`` on every value that is not plainly fine."""
    values = []
    for name, glue, _ in EVENT_COLUMNS:
        value = event.get(name)
        if (glue == "string" and type(value) is str) or (
            value is None and name not in lake._REQUIRED
        ):
            values.append(value)
        else:
            values.append(lake._check(name, glue, value))
    day = event.get("event_date")
    if day is None:
        day = time.strftime("%Y-%m-%d", time.gmtime(event["event_time"] // 1000))
    if not isinstance(day, str) or not lake._DAY.match(day):
        raise ValueError("event_date must be YYYY-MM-DD")
    return day, tuple(values)


class _Text(str):
    pass


#: values of every kind a column could be handed: fine, convertible or unstorable
_ANY_VALUE = st.sampled_from(
    [None, "x", _Text("sub"), 7, -(2**31) - 1, 2**31, 2**40, True, 1.5, float("nan"),
     {"k": "v"}, {"k": 1}, {1: "v"}, [("k", "v")], b"x"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.dictionaries(st.sampled_from([n for n, _, _ in EVENT_COLUMNS]), _ANY_VALUE))
def test_rows_are_checked_as_column_by_column(changes: dict[str, Any]) -> None:
    """The row conversion planned per combination of value types gives the values, or
    the first error, that checking every column in turn gives."""
    event: dict[str, Any] = dict.fromkeys(COLUMN_NAMES)
    event.update(event_id="e1", event_time=1_772_323_200_000, event_type="pageview")
    event.update(domain_name="example.com", screen_width=1920, edge_latitude=50.0)
    event.update(changes, event_date=DAY1)
    try:
        expected: Any = _row_column_by_column(event)
    except ValueError as err:
        expected = ("error", str(err))
    try:
        found: Any = lake._to_row(event)
    except ValueError as err:
        found = ("error", str(err))
    assert repr(found) == repr(expected)


def test_missing_event_date_is_derived_from_event_time(
    tmp_path: Path, make_event: EventFactory
) -> None:
    event = make_event(DAY2)
    del event["event_date"]
    with LakeSink(tmp_path) as sink:
        assert sink.put([event]) == []
    assert read_day(tmp_path, DAY2).num_rows == 1


def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = pq.write_table

    def half_write(table: pa.Table, where: Any, **kwargs: Any) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    sink = LakeSink(tmp_path, max_buffer_rows=2, retry_delay_s=0)
    first = make_event()
    assert sink.put([first]) == []  # buffered: accepted
    monkeypatch.setattr(lake.pq, "write_table", half_write)
    second, third = make_event(), make_event()
    # the write is due now and fails: this call's events come back, the earlier one stays
    assert sink.put([second, third]) == [0, 1]
    assert all_files(tmp_path) == []  # neither the half file nor its temp name is visible
    assert sink.pending == 1
    with pytest.raises(LakeWriteError, match="kept in memory"):
        sink.flush()
    monkeypatch.setattr(lake.pq, "write_table", real_write)
    sink.close()  # the disk recovered: nothing was lost
    assert read_day(tmp_path, DAY1).column("event_id").to_pylist() == [first["event_id"]]


def test_failure_is_per_partition(tmp_path: Path, make_event: EventFactory) -> None:
    blocked = partition_dir(tmp_path, DAY2)
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a directory")
    sink = LakeSink(tmp_path, max_buffer_rows=1, retry_delay_s=0)
    assert sink.put([make_event(DAY1), make_event(DAY2), make_event(DAY1)]) == [1]
    assert read_day(tmp_path, DAY1).num_rows == 2
    sink.close()


def test_close_raises_rather_than_losing_rows(tmp_path: Path, make_event: EventFactory) -> None:
    sink = LakeSink(tmp_path, retry_delay_s=0)
    sink.put([make_event(DAY2)])
    blocked = partition_dir(tmp_path, DAY2)
    blocked.write_text("not a directory")
    with pytest.raises(LakeWriteError, match="2026-03-02"):
        sink.close()
    blocked.unlink()
    sink.close()
    assert read_day(tmp_path, DAY2).num_rows == 1
    with pytest.raises(RuntimeError, match="closed"):
        sink.put([make_event()])


class _Clock:
    """Wall time that moves 100 s per reading: every file is old enough for the policy
    and every grace period is over by the next run."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 100
        return self.now


def test_compaction_keeps_a_day_to_a_few_files(tmp_path: Path, make_event: EventFactory) -> None:
    events = [make_event(DAY1 if i % 4 else DAY2) for i in range(90)]
    with LakeSink(
        tmp_path,
        max_buffer_rows=1,
        compact_threshold=5,
        compact_interval_s=0,
        background_compaction=False,
        wall_clock=_Clock(),
    ) as sink:
        most = 0
        for event in events:
            assert sink.put([event]) == []
            most = max(most, len(partition_files(tmp_path, DAY1)))
        assert most <= 5 + 2  # the threshold, plus a run's output beside its inputs
        assert sink.last_compaction is not None and sink.last_compaction.errors == []
        assert sink.put(events[:10]) == []  # redelivered copies
        removed = sink.compact()
        assert removed > 0
    for day in (DAY1, DAY2):
        (only,) = partition_files(tmp_path, day)
        assert only.name.startswith("compacted-day-")  # the AWS compactor's closed-day file
    ids = (
        read_day(tmp_path, DAY1).column("event_id").to_pylist()
        + read_day(tmp_path, DAY2).column("event_id").to_pylist()
    )
    assert sorted(ids) == sorted(e["event_id"] for e in events)  # all kept, copies dropped
    assert not [f for f in all_files(tmp_path) if f.suffix != ".parquet"]  # no manifests left
    day = read_day(tmp_path, DAY1)
    order = list(zip(*(day.column(c).to_pylist() for c in LOCAL_POLICY.sort_keys), strict=True))
    assert order == sorted(order)  # sorted for pruning, as on S3


def test_compaction_runs_beside_the_writer(tmp_path: Path, make_event: EventFactory) -> None:
    """In the background (serve's default) a flush never waits for a merge, and today's
    raw files become hour-tier files as on AWS."""
    today = time.strftime("%Y-%m-%d", time.gmtime())  # open for 8 h past its midnight
    midnight_ms = int(calendar.timegm(time.strptime(today, "%Y-%m-%d"))) * 1000
    events = [make_event(event_date=today, event_time=midnight_ms + n * 1000) for n in range(40)]
    with LakeSink(
        tmp_path, max_buffer_rows=1, compact_threshold=16, compact_interval_s=0,
        wall_clock=_Clock(),
    ) as sink:  # fmt: skip
        for event in events:
            assert sink.put([event]) == []
    assert sink.last_compaction is not None and sink.last_compaction.compacted
    assert {c["tier"] for c in sink.last_compaction.compacted} == {"hour"}
    names = [p.name for p in partition_files(tmp_path, today)]
    assert any(n.startswith("compacted-hour-") for n in names)
    ids = [
        i
        for path in partition_files(tmp_path, today)
        for i in pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist()
    ]
    assert set(ids) == {e["event_id"] for e in events}  # inputs may remain beside outputs


def test_compact_one_day_and_nothing_to_do(tmp_path: Path, make_event: EventFactory) -> None:
    with LakeSink(tmp_path, max_buffer_rows=1) as sink:
        for day in (DAY1, DAY1, DAY2, DAY2):
            sink.put([make_event(day)])
        assert sink.compact(DAY1) == 2
        assert len(partition_files(tmp_path, DAY2)) == 2
        assert sink.compact(DAY1) == 0


def test_concurrent_puts(tmp_path: Path, make_event: EventFactory) -> None:
    batches = [[make_event(DAY1 if i % 2 else DAY2) for i in range(50)] for _ in range(8)]
    failures: list[list[int]] = []
    with LakeSink(tmp_path, max_buffer_rows=30, compact_threshold=4) as sink:
        threads = [
            threading.Thread(target=lambda b=b: failures.append(sink.put(b))) for b in batches
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == [[]] * 8
    ids = read_day(tmp_path, DAY1).column("event_id").to_pylist()
    ids += read_day(tmp_path, DAY2).column("event_id").to_pylist()
    # every event stored; a second copy only while a compaction's inputs await deletion
    # (the views count it once), which happens when the files count as old enough: with
    # the clock-ahead run's moved clock, files the kernel dates today are 400 days old
    assert set(ids) == {e["event_id"] for b in batches for e in b}
    assert max(Counter(ids).values()) <= 2


def test_compaction_works_with_a_relative_data_directory(
    tmp_path: Path, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ownstats demo`` and ``serve`` default to a relative directory
    (``ownstats-demo-data``): the compactor's store must list and key it all the same."""
    monkeypatch.chdir(tmp_path)
    events = [make_event(DAY1) for _ in range(6)]
    with LakeSink(
        Path("relative-data"),
        max_buffer_rows=1,
        compact_threshold=3,
        compact_interval_s=0,
        background_compaction=False,
        wall_clock=_Clock(),
    ) as sink:
        for event in events:
            assert sink.put([event]) == []
        assert sink.last_compaction is not None and sink.last_compaction.errors == []
        assert sink.compact() > 0
    (only,) = partition_files(tmp_path / "relative-data", DAY1)
    assert only.name.startswith("compacted-day-")

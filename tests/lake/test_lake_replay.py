"""LakeSink.skip_stored: a replay of events that partly reached the lake writes each once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from ownstats.lake import LakeSink, partition_files, stored_event_ids

if TYPE_CHECKING:  # conftest is not importable under importlib mode
    from conftest import EventFactory

DAY1 = "2026-03-01"
DAY2 = "2026-03-02"


def stored_ids(data_dir: Path, day: str) -> list[str]:
    return [
        event_id
        for path in partition_files(data_dir, day)
        for event_id in pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist()
    ]


def test_skip_stored_writes_only_what_is_missing(tmp_path: Path, make_event: EventFactory) -> None:
    events = [make_event(DAY1) for _ in range(6)] + [make_event(DAY2) for _ in range(2)]
    with LakeSink(tmp_path) as sink:  # before the crash: half of day 1 was written
        sink.put(events[:3])
    assert sorted(stored_event_ids(tmp_path, DAY1)) == [e["event_id"] for e in events[:3]]

    with LakeSink(tmp_path) as sink:
        sink.skip_stored(True)
        assert sink.put(events) == []  # the replay: everything again
        assert sink.put(events[4:5]) == []  # and a copy within the replay
        sink.flush()
        assert sink.skipped == 4
        sink.skip_stored(False)
    assert sorted(stored_ids(tmp_path, DAY1)) == sorted(e["event_id"] for e in events[:6])
    assert sorted(stored_ids(tmp_path, DAY2)) == sorted(e["event_id"] for e in events[6:])


def test_without_skip_stored_nothing_is_read_back(tmp_path: Path, make_event: EventFactory) -> None:
    event = make_event(DAY1)
    for _ in range(2):
        with LakeSink(tmp_path) as sink:
            sink.put([event])
    assert stored_ids(tmp_path, DAY1) == [event["event_id"]] * 2  # the views dedupe these

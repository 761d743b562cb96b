"""Damaged or foreign Parquet files in the local lake: set aside, never fatal.

Before, one zero-byte, random or half-copied ``.parquet`` file in any partition made
``ownstats serve`` refuse to start and every ``ownstats query`` (even ``select 1``)
print a traceback, and its day never compacted; a file with ``event_time`` as text
broke ``daily_stats`` and one without ``event_id`` was merged for good as NULL rows.
"""

from __future__ import annotations

import random
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ownstats.engine import Engine
from ownstats.lake import LakeSink, partition_dir, partition_files
from tests.cli.processes import CHROME, free_port, query, run_cli, start, stop, wait_for_port
from tests.lake.conftest import DAY1, DAY2, EventFactory


def bad_files(good: bytes) -> dict[str, bytes]:
    rng = random.Random(3)
    middle = len(good) // 3
    as_text = pa.table(
        {"event_id": ["x1"], "event_time": ["2026-03-01 10:00"], "event_type": ["pageview"],
         "domain_name": ["example.com"]}
    )  # fmt: skip
    without_id = pa.table(
        {"event_time": pa.array([1_772_359_200_000], pa.timestamp("ms")),
         "event_type": ["pageview"], "domain_name": ["example.com"]}
    )  # fmt: skip
    files = {
        "zero-bytes.parquet": b"",
        "random.parquet": rng.randbytes(4096),
        "half-copied.parquet": good[: len(good) // 2],
        "damaged-page.parquet": good[:middle] + rng.randbytes(300) + good[middle + 300 :],
    }
    for name, table in (("time-as-text.parquet", as_text), ("no-event-id.parquet", without_id)):
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        files[name] = sink.getvalue().to_pybytes()
    return files


@pytest.fixture
def damaged_lake(tmp_path: Path, make_event: EventFactory) -> Path:
    """Two days of 40 good events each, then every kind of bad file in both days."""
    data = tmp_path / "lake"
    with LakeSink(data) as sink:
        for day in (DAY1, DAY2):
            sink.put([make_event(day, page_path=f"/{i}") for i in range(40)])
            sink.flush()
    good = partition_files(data, DAY1)[0].read_bytes()
    for day in (DAY1, DAY2):
        for name, body in bad_files(good).items():
            (partition_dir(data, day) / name).write_bytes(body)
    return data


def quarantined(data: Path) -> list[str]:
    return sorted(p.relative_to(data).as_posix() for p in (data / "quarantine").rglob("*.parquet"))


def test_the_engine_sets_bad_files_aside_and_answers(damaged_lake: Path) -> None:
    with Engine(damaged_lake) as engine:
        assert engine.query("SELECT 1 AS one").rows == [(1,)]
        assert engine.query("SELECT count(*) FROM events").rows == [(80,)]
        daily = engine.query("SELECT event_date, pageviews FROM daily_stats ORDER BY 1").rows
        assert daily == [(DAY1, 40), (DAY2, 40)]
    names = bad_files(b"x" * 3000).keys()
    assert quarantined(damaged_lake) == sorted(
        f"quarantine/events/event_date={day}/{name}" for day in (DAY1, DAY2) for name in names
    )


def test_compaction_of_a_damaged_day_merges_only_events_files(damaged_lake: Path) -> None:
    with LakeSink(damaged_lake) as sink:
        sink.compact()
        assert sink.last_compaction is not None
    assert [len(partition_files(damaged_lake, day)) for day in (DAY1, DAY2)] == [1, 1]
    with Engine(damaged_lake, materialize=False) as engine:
        rows = engine.query("SELECT count(*), count(event_id) FROM events").rows
    assert rows == [(80, 80)]  # never a NULL event_id merged in
    assert len(quarantined(damaged_lake)) == 12


def test_query_and_serve_work_on_a_damaged_lake(damaged_lake: Path) -> None:
    done = run_cli("query", "--data", str(damaged_lake), "select 1")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "moved to" in done.stderr  # a warning naming each file
    # and the same again for serve, on a fresh copy of the damage
    good = partition_files(damaged_lake, DAY1)[0].read_bytes()
    (partition_dir(damaged_lake, DAY1) / "late-zero.parquet").write_bytes(b"")
    (partition_dir(damaged_lake, DAY2) / "late-half.parquet").write_bytes(good[:100])
    port = free_port()
    process = start("serve", "--port", str(port), "--data", str(damaged_lake))
    try:
        wait_for_port(port, process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/hello.gif?v=1&t=pv&u=https%3A%2F%2Fexample.com%2Fnew&id=n",
            headers={"User-Agent": CHROME},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        deadline = time.monotonic() + 20
        count = 0
        while time.monotonic() < deadline and count != 81:
            count = query(damaged_lake, "SELECT count(*) AS n FROM events")[0]["n"]
        assert count == 81
    finally:
        code, _out, err = stop(process)
    assert code == 0, err
    assert "Traceback" not in err
    assert len(quarantined(damaged_lake)) == 14


def test_ingest_into_a_damaged_lake_stores_its_records_and_sets_the_files_aside(
    damaged_lake: Path, tmp_path: Path
) -> None:
    from factories import beacon_query, make_line

    records = tmp_path / "records.log"
    records.write_text(
        "\n".join(
            make_line(beacon_query(u=f"https://example.com/in{i}"), timestamp="1772366400.000")
            for i in range(25)
        )
        + "\n"
    )  # 2026-03-01 12:00 UTC: into the damaged day
    done = run_cli("ingest", "--data", str(damaged_lake), "--domain", "example.com", str(records))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "accepted: 25" in done.stdout
    assert query(damaged_lake, "SELECT count(*) AS n FROM events") == [{"n": 105}]
    assert len(quarantined(damaged_lake)) == 12

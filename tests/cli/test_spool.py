"""The collector's spool: group commit, file format, replay, release, write failures."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from factories import make_line

from ownstats import collector
from ownstats.collector import Spool, Stream, read_spool_file
from ownstats.engine import Engine
from ownstats.server import LocalStack


def test_lines_are_on_disk_and_on_the_stream_when_the_future_resolves(tmp_path: Path) -> None:
    stream = Stream()
    spool = Spool(tmp_path / "spool", stream)
    assert spool.open() == 0
    lines = [make_line() for _ in range(3)]
    for line in lines:
        spool.append(line).result(timeout=10)
    [path] = (tmp_path / "spool").glob("*.spool")
    assert read_spool_file(path) == (lines, 0)
    assert [line for _, line in stream.take(10)] == lines
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # raw lines: IPs, user agents
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    spool.close()


def test_concurrent_requests_share_an_fsync(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", Stream(), linger_s=0.002)
    spool.open()
    futures = []
    barrier = threading.Barrier(8)

    def client() -> None:
        barrier.wait()
        futures.extend(spool.append(make_line()) for _ in range(50))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for future in futures:
        future.result(timeout=10)
    assert len(spool.stream) == 400
    assert spool.commits < 400 / 4  # grouped, not one fsync per line
    spool.close()


def test_release_deletes_stored_files_and_replay_reads_the_rest(tmp_path: Path) -> None:
    stream = Stream()
    spool = Spool(tmp_path / "spool", stream, segment_s=0.0)  # a file per commit
    spool.open()
    lines = [make_line() for _ in range(4)]
    for line in lines:
        spool.append(line).result(timeout=10)
    assert len(list((tmp_path / "spool").glob("*.spool"))) == 4
    assert spool.release(2) == 2  # lines 1 and 2 are in the lake
    assert spool.unreleased == 2
    spool.close()  # a stop that could not store lines 3 and 4

    again = Stream()
    replay = Spool(tmp_path / "spool", again)
    assert replay.open() == 2
    assert [line for _, line in again.take(10)] == lines[2:]
    replay.append(make_line()).result(timeout=10)  # new files sort after the old ones
    names = sorted(p.name for p in (tmp_path / "spool").glob("*.spool"))
    assert len(names) == 3 and names[-1] > names[0]
    replay.release(3)
    assert not list((tmp_path / "spool").glob("*.spool"))
    replay.close()


def test_torn_and_damaged_records_are_skipped(tmp_path: Path) -> None:
    good = [make_line(), make_line()]
    spool = Spool(tmp_path / "spool", Stream())
    spool.open()
    for line in good:
        spool.append(line).result(timeout=10)
    spool.close()
    [path] = (tmp_path / "spool").glob("*.spool")
    data = path.read_bytes()
    flipped = data.replace(b"example.com", b"examp1e.com", 1)  # first record damaged
    path.write_bytes(flipped + data.splitlines(keepends=True)[1][:30])  # + a torn record
    assert read_spool_file(path) == ([good[1]], 2)


def test_a_failed_write_fails_the_group_and_leaves_no_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = Stream()
    spool = Spool(tmp_path / "spool", stream)
    spool.open()
    spool.append(make_line()).result(timeout=10)
    real = collector._datasync

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(collector, "_datasync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        spool.append(make_line()).result(timeout=10)
    assert len(stream) == 1  # the refused line never reaches the processor
    monkeypatch.setattr(collector, "_datasync", real)
    spool.append(last := make_line()).result(timeout=10)
    lines = [
        line
        for path in sorted((tmp_path / "spool").glob("*.spool"))
        for line in read_spool_file(path)[0]
    ]
    assert len(lines) == 2 and lines[-1] == last
    spool.close()


def test_a_replay_of_stored_lines_is_not_stored_twice(tmp_path: Path) -> None:
    """A crash after the lake write but before the spool let go of the lines."""
    data = tmp_path / "lake"
    lines = [make_line() for _ in range(40)]

    stack = LocalStack(data, [])
    stack.start()
    for line in lines[:25]:
        stack.spool.append(line).result(timeout=10)  # type: ignore[union-attr]
    stack.stop()
    assert stack.kept == 0 and stack.pump.totals.accepted == 25

    leftover = Spool(data / "spool", Stream())  # all 40 lines, as a crash would leave them
    leftover.open()
    for line in lines:
        leftover.append(line).result(timeout=10)
    leftover.close()

    again = LocalStack(data, [])
    again.start()
    assert again.replayed == 40
    again.stop()
    assert again.kept == 0
    assert again.pump.totals.accepted - again.sink.skipped == 15
    with Engine(data, materialize=False) as engine:
        rows = engine.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
    assert rows.rows == [(40, 40)]
    assert not list((data / "spool").glob("*.spool"))


def test_a_named_pipe_in_the_spool_is_skipped_not_waited_for(tmp_path: Path) -> None:
    """Before, a FIFO called *.spool blocked the start for good (and SIGTERM with it)."""
    import os
    import shutil

    directory = tmp_path / "spool"
    directory.mkdir()
    os.mkfifo(directory / "000000000001.spool")
    good = directory / "000000000002.spool"
    writer = Spool(tmp_path / "other", Stream())
    writer.open()
    writer.append(make_line()).result(timeout=10)
    writer.close()
    shutil.copy(next((tmp_path / "other").glob("*.spool")), good)
    spool = Spool(directory, Stream())
    opened: list[int] = []
    thread = threading.Thread(target=lambda: opened.append(spool.open()), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert opened == [1]  # the regular file's line, and no hang
    spool.close()


def test_a_deleted_spool_folder_is_made_again_and_keeps_acknowledging(tmp_path: Path) -> None:
    """Before, `rm -rf DATA/spool` while serve ran answered 503 until a restart."""
    import shutil

    directory = tmp_path / "spool"
    stream = Stream()
    spool = Spool(directory, stream)
    spool.open()
    spool.append(make_line()).result(timeout=10)
    shutil.rmtree(directory)
    line = make_line()
    spool.append(line).result(timeout=10)  # no OSError
    (path,) = directory.glob("*.spool")
    assert read_spool_file(path) == ([line], 0)  # on disk again, not in a deleted inode
    spool.close()

"""`ownstats serve` never loses a beacon it answered 200: kill -9, and a lake that cannot
be written at shutdown. A real process, real HTTP, only 127.0.0.1, bounded in count."""

from __future__ import annotations

import http.client
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from tests.cli.processes import CHROME, free_port, query, start, stop, wait_for_port

COUNT_SQL = (
    "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, count(DISTINCT page_path) AS pages "
    "FROM events"
)


def send(port: int, paths: list[str], threads: int = 8) -> list[int]:
    """GET one beacon per path over keep-alive connections; the status of each."""

    def one_thread(chunk: list[str]) -> list[int]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        statuses = []
        try:
            for path in chunk:
                beacon = urlencode(
                    {"v": "1", "t": "pv", "u": f"https://example.com{path}", "id": path},
                    quote_via=quote,
                )
                connection.request("GET", f"/hello.gif?{beacon}", headers={"User-Agent": CHROME})
                response = connection.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            connection.close()
        return statuses

    chunks = [paths[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return [status for statuses in pool.map(one_thread, chunks) for status in statuses]


def serve(port: int, data: Path) -> subprocess.Popen[str]:
    process = start("serve", "--port", str(port), "--data", str(data), "--domain", "example.com")
    wait_for_port(port, process)
    return process


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_kill_9_loses_no_acknowledged_beacon(tmp_path: Path, processes: list) -> None:
    port, data = free_port(), tmp_path / "lake"
    processes.append(first := serve(port, data))
    paths = [f"/p{i}" for i in range(1500)]
    assert send(port, paths) == [200] * len(paths)
    first.send_signal(signal.SIGKILL)  # right after the last 200: no chance to flush
    first.communicate(timeout=30)
    spooled = list((data / "spool").glob("*.spool"))
    assert spooled, "the newest beacons should be waiting in the spool"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in spooled)  # IPs, user agents
    assert stat.S_IMODE((data / "spool").stat().st_mode) == 0o700

    processes.append(second := serve(port, data))
    code, out, err = stop(second)
    assert code == 0, err
    assert "replayed" in out
    [row] = query(data, COUNT_SQL)
    assert row == {"n": 1500, "ids": 1500, "pages": 1500}  # every beacon, exactly once
    assert not list((data / "spool").glob("*.spool")), "stored lines must leave the spool"


def test_a_second_replay_of_stored_lines_counts_nothing_twice(
    tmp_path: Path, processes: list
) -> None:
    """A crash between writing the lake and deleting the spool replays lines that are
    already stored: simulated by putting the spool of a first run back after it."""
    port, data = free_port(), tmp_path / "lake"
    processes.append(first := serve(port, data))
    assert send(port, [f"/p{i}" for i in range(300)]) == [200] * 300
    first.send_signal(signal.SIGKILL)  # the older ones stored, the newest not yet
    first.communicate(timeout=30)
    saved = {p.name: p.read_bytes() for p in (data / "spool").glob("*.spool")}
    assert saved

    processes.append(second := serve(port, data))
    assert stop(second)[0] == 0
    for name, content in saved.items():  # as if the deletion had not happened
        (data / "spool" / name).write_bytes(content)
    processes.append(third := serve(port, data))
    code, out, err = stop(third)
    assert code == 0, err
    assert "stopped: 0 events stored" in out
    assert query(data, COUNT_SQL) == [{"n": 300, "ids": 300, "pages": 300}]


def block_partitions(data: Path) -> list[Path]:
    """Make the lake unwritable, even for root: a file where today's partition goes."""
    now = time.time()
    days = {time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (now, now + 3600)}
    (data / "events").mkdir(parents=True, exist_ok=True)
    blocks = [data / "events" / f"event_date={day}" for day in sorted(days)]
    for block in blocks:
        block.write_text("not a directory")
    return blocks


def test_a_stop_that_cannot_write_the_lake_keeps_every_beacon(
    tmp_path: Path, processes: list
) -> None:
    port, data = free_port(), tmp_path / "lake"
    blocks = block_partitions(data)
    processes.append(first := serve(port, data))
    assert send(port, [f"/p{i}" for i in range(400)]) == [200] * 400
    time.sleep(1.5)  # the pump tries (and fails) a few times
    code, out, err = stop(first)
    assert code != 0
    assert f"400 beacons kept in {data / 'spool'}, replayed on next start" in err
    assert "events stored" not in out  # no claim that anything was stored
    assert "Traceback" not in err
    assert len(err.splitlines()) < 40, "repeated errors must be rate-limited"
    assert sum(p.stat().st_size for p in (data / "spool").glob("*.spool")) > 0

    for block in blocks:
        block.unlink()
    processes.append(second := serve(port, data))
    code, out, err = stop(second)
    assert code == 0, err
    assert "replayed 400 beacons" in out and "stopped: 400 events stored" in out
    assert query(data, COUNT_SQL) == [{"n": 400, "ids": 400, "pages": 400}]
    assert not list((data / "spool").glob("*.spool"))

"""One hostile request through the commands a user runs: `serve` over HTTP, its spool
replay after a restart, and `ingest`. None of them may stop collecting or lose the
events around it (before: serve stored nothing after it, even after a restart, and
ingest of 1,000 good lines + it stored 0 and exited 1 with a traceback)."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

from factories import beacon_query, make_line

from ownstats.collector import Spool, Stream
from tests.cli.processes import CHROME, free_port, query, run_cli, start, stop, wait_for_port

#: the finding's request: a props JSON holding a lone surrogate escape, ASCII on the wire
POISON = "v=1&t=ev&u=https%3A%2F%2Fexample.com%2F&n=x&p=%7B%22k%22%3A%22%5Cud800%22%7D"
#: the same idea in the page path and a NUL in the referrer
POISON_PATH = "v=1&t=pv&u=https%3A%2F%2Fexample.com%2F%ED%A0%80%00&r=https%3A%2F%2Fa.example%2F%00"


def get(port: int, query_string: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hello.gif?{query_string}", headers={"User-Agent": CHROME}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def good(i: int) -> str:
    return beacon_query(u=f"https://example.com/good{i}", id=f"g{i}")


def count_when(data: Path, expected: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        seen = query(data, "SELECT count(*) AS n FROM events")[0]["n"]
        if seen == expected:
            return seen
        time.sleep(0.3)
    return seen


def serve(data: Path) -> tuple[int, Any]:
    port = free_port()
    process = start("serve", "--port", str(port), "--data", str(data), "--domain", "example.com")
    wait_for_port(port, process)
    return port, process


def test_serve_keeps_collecting_after_a_poison_beacon_and_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "lake"
    port, process = serve(data)
    try:
        statuses = [get(port, good(i)) for i in range(20)]
        statuses += [get(port, POISON), get(port, POISON_PATH)]
        statuses += [get(port, good(i)) for i in range(20, 45)]
        assert set(statuses) == {200}
        assert count_when(data, 47) == 47
    finally:
        code, _out, err = stop(process)
    assert code == 0, err
    assert "Traceback" not in err
    port, process = serve(data)  # nothing replayed twice, nothing stuck
    try:
        get(port, good(99))
        assert count_when(data, 48) == 48
    finally:
        code, _out, err = stop(process)
    assert code == 0, err
    props = query(data, "SELECT props['k'] AS k FROM events WHERE event_name = 'x'")
    assert props == [{"k": "\ufffd"}]
    assert not list((data / "spool").glob("*.spool"))


def test_a_spool_holding_a_poison_line_is_replayed_whole(tmp_path: Path) -> None:
    data = tmp_path / "lake"
    spool = Spool(data / "spool", Stream())
    spool.open()
    for line in [make_line(good(i)) for i in range(10)] + [make_line(POISON)]:
        spool.append(line).result(timeout=10)
    spool.close()
    _port, process = serve(data)
    try:
        assert count_when(data, 11) == 11
    finally:
        code, _out, err = stop(process)
    assert code == 0, err
    assert not list((data / "spool").glob("*.spool"))


def test_ingest_of_good_lines_and_a_poison_one_stores_all(tmp_path: Path) -> None:
    lines = [make_line(good(i)) for i in range(1000)]
    lines.insert(500, make_line(POISON))
    source = tmp_path / "records.log"
    source.write_text("\n".join(lines) + "\n")
    done = run_cli(
        "ingest", "--data", str(tmp_path / "lake"), "--domain", "example.com", str(source)
    )
    assert done.returncode == 0, done.stderr
    assert "accepted: 1,001" in done.stdout and "Traceback" not in done.stderr
    assert query(tmp_path / "lake", "SELECT count(*) AS n FROM events") == [{"n": 1001}]

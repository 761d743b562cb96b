"""`ownstats serve` and `ownstats demo` as a user runs them: a real process, real HTTP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlencode

import pytest
from factories import fixture_lines

from stream_processor.fields import REALTIME_LOG_FIELDS
from tests.cli.processes import (
    CHROME,
    free_port,
    query,
    run_cli,
    start,
    stop,
    wait_for_port,
)


def hit(port: int, headers: dict[str, str] | None = None, **params: str) -> Any:
    query = urlencode({"v": "1", "t": "pv", "id": "x", **params}, quote_via=quote)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hello.gif?{query}",
        headers={"User-Agent": CHROME, **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[str]]]:
    port, data = free_port(), tmp_path / "lake"
    process = start(
        "serve",
        "--port",
        str(port),
        "--data",
        str(data),
        "--domain",
        "example.com",
        "--trust-proxy",
    )
    wait_for_port(port, process)
    yield port, data, process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_serve_collects_and_answers_queries_within_2_seconds(server: Any) -> None:
    port, data, process = server
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.js", timeout=10) as response:
        assert response.status == 200
        assert "javascript" in response.headers["Content-Type"]
        assert b"hello.gif" in response.read()
    status, headers, body = hit(
        port, u="https://www.example.com/docs?token=secret", r="https://news.ycombinator.com/"
    )
    assert status == 200 and headers["Content-Type"] == "image/gif"
    assert body.startswith(b"GIF8") and "no-store" in headers["Cache-Control"]
    hit(port, u="https://evil.test/")  # answered, then rejected
    sent = time.monotonic()
    rows: list[dict[str, Any]] = []
    while time.monotonic() - sent < 2.0 and not rows:
        rows = query(data, "SELECT domain_name, page_path, source, browser_name FROM events")
    assert rows == [
        {
            "domain_name": "example.com",
            "page_path": "/docs",
            "source": "Hacker News",
            "browser_name": "Chrome",
        }
    ]
    code, out, err = stop(process)
    assert code == 0, err
    assert "ownstats is running" in out and "stopped: 1 events stored, 1 rejected" in out


def test_trust_proxy_takes_forwarded_ip_and_country(server: Any) -> None:
    port, data, process = server
    for ip in ("198.51.100.1", "198.51.100.2"):
        hit(
            port,
            {"X-Forwarded-For": f"{ip}, 10.0.0.1", "CloudFront-Viewer-Country": "JP"},
            u="https://example.com/",
        )
    assert stop(process)[0] == 0
    rows = query(data, "SELECT country_code, visitor_id FROM events")
    assert {r["country_code"] for r in rows} == {"JP"}
    assert len({r["visitor_id"] for r in rows}) == 2  # two forwarded IPs, two visitors


def test_without_trust_proxy_headers_are_ignored(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "lake"
    process = start("serve", "--port", str(port), "--data", str(data))
    wait_for_port(port, process)
    for ip in ("198.51.100.1", "198.51.100.2"):
        hit(
            port,
            {"X-Forwarded-For": ip, "CF-IPCountry": "JP"},
            u="https://example.com/",
            tz="Europe/Paris",
        )
    assert stop(process, signal.SIGINT)[0] == 0
    rows = query(data, "SELECT country_code, visitor_id FROM events")
    assert {r["country_code"] for r in rows} == {"FR"}  # from the time zone, not the header
    assert len({r["visitor_id"] for r in rows}) == 1  # same socket IP and agent: one visitor


def test_shutdown_flushes_everything_received(server: Any) -> None:
    port, data, process = server
    for i in range(200):
        hit(port, u=f"https://example.com/p{i}")
    code, _, err = stop(process)  # immediately: the pump and lake must drain on the way out
    assert code == 0, err
    assert query(data, "SELECT count(*) AS n FROM events") == [{"n": 200}]
    assert not list(data.glob("**/*.tmp")), "temporary files left behind"
    salts = list((data / "salts").glob("*.salt"))
    assert salts and all(not str(p).startswith(str(data / "events")) for p in salts)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("serve", "--port", str(port), "--data", str(tmp_path), timeout=60)
    assert done.returncode != 0
    assert f"port {port}" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_generates_history_and_live_traffic(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "demo"
    done = run_cli(
        "demo",
        "--port",
        str(port),
        "--data",
        str(data),
        "--days",
        "3",
        "--visits-per-day",
        "60",
        "--rate",
        "5",
        "--duration",
        "6",
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "ownstats is running" in done.stdout and "demo stopped" in done.stdout
    days = query(data, "SELECT event_date, visitors FROM daily_stats ORDER BY event_date")
    assert len({d["event_date"] for d in days}) >= 3
    live = query(data, "SELECT count(*) AS n FROM events WHERE edge_location IS NULL")
    assert live[0]["n"] > 0  # live hits came through the HTTP collector (no edge location)
    sources = {r["source"] for r in query(data, "SELECT DISTINCT source FROM sources")}
    assert {"Google", "Direct / None"} <= sources
    # a second run starts fresh in the same demo directory; a foreign one is refused
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep")
    refused = run_cli(
        "demo", "--port", str(port), "--data", str(tmp_path / "mine"), "--duration", "1", timeout=60
    )
    assert refused.returncode != 0 and "not a demo lake" in refused.stderr
    assert (tmp_path / "mine" / "precious.txt").exists()


def test_serve_logs_the_fixture_requests_as_cloudfront_did(server: Any, tmp_path: Path) -> None:
    """Replay the browser requests behind the real-format fixture records against
    ``ownstats serve``: the events must equal those of ingesting the records themselves,
    so local mode and a deployed stack count the same thing."""
    port, data, process = server
    records = [line.split("\t") for line in fixture_lines("cloudfront/realtime-records.tsv")]
    at = {name: i for i, name in enumerate(REALTIME_LOG_FIELDS)}
    replayed = 0
    for values in records:
        stem, method = values[at["cs-uri-stem"]], values[at["cs-method"]]
        if not stem.startswith("/hello.gif") or values[at["sc-status"]] != "200":
            continue  # served without a real-time log here (hello.js) or refused by CloudFront
        headers = {
            # CloudFront's layer is one percent-encoding of the bytes the browser sent
            "User-Agent": unquote_to_bytes(values[at["cs-user-agent"]]).decode(),
            "X-Forwarded-For": values[at["c-ip"]],
            "CloudFront-Viewer-Country": values[at["c-country"]].strip("-"),
        }
        target = unquote_to_bytes(stem).decode("latin-1")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{target}", headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        replayed += 1
    assert replayed == 7
    code, out, err = stop(process)
    assert code == 0, err
    assert "stopped: 4 events stored, 3 rejected (bot 1, foreign_domain 1, not_beacon 1)" in out

    log = tmp_path / "realtime.log"
    log.write_text("\n".join("\t".join(v) for v in records) + "\n")
    ingested = tmp_path / "ingested"
    assert (
        run_cli("ingest", "--data", str(ingested), "--domain", "example.com", str(log)).returncode
        == 0
    )
    compared = (
        "event_type, event_name, props, domain_name, page_path, referrer_domain, source, channel, "
        "utm_campaign, browser_name, browser_version, os_name, device_type, screen_width, "
        "language, timezone, country_code, engagement_ms, scroll_depth"
    )
    sql = f"SELECT {compared} FROM events ORDER BY page_id, event_type"
    assert query(data, sql) == query(ingested, sql)
    assert len(query(data, sql)) == 4


def test_demo_stopped_early_does_not_wait_for_its_duration(tmp_path: Path) -> None:
    """Before, `demo --duration N` stopped by SIGTERM or Ctrl-C hung until N had passed."""
    port = free_port()
    process = start(
        "demo", "--port", str(port), "--data", str(tmp_path / "demo"), "--days", "1",
        "--visits-per-day", "20", "--duration", "3600",
    )  # fmt: skip
    try:
        wait_for_port(port, process, timeout=120)
        stopped = time.monotonic()
        code, out, err = stop(process)  # communicate(timeout=60): a hang fails the test
        assert code == 0, err
        assert time.monotonic() - stopped < 60 and "demo stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_serve_time_zone_reaches_the_dashboard(tmp_path: Path) -> None:
    """`--time-zone`: the dashboard's days are the site's (its meta says which zone);
    a name the time zone database does not know stops the command at once."""
    bad = run_cli("serve", "--data", str(tmp_path / "x"), "--time-zone", "Mars/Olympus")
    assert bad.returncode == 2 and "unknown time zone 'Mars/Olympus'" in bad.stderr
    port = free_port()
    process = start(
        "serve", "--data", str(tmp_path / "lake"), "--port", str(port),
        "--time-zone", "example.com=Asia/Kolkata",
    )  # fmt: skip
    try:
        wait_for_port(port, process)
        hit = "/hello.gif?v=1&t=pv&u=https%3A%2F%2Fexample.com%2F"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{hit}", headers={"User-Agent": CHROME}
        )
        urllib.request.urlopen(request, timeout=10).read()
        deadline = time.monotonic() + 20
        while True:
            url = f"http://127.0.0.1:{port}/api/summary?site=example.com&period=today"
            try:
                body = json.loads(urllib.request.urlopen(url, timeout=10).read())
                break
            except urllib.error.HTTPError:  # the site is not listed yet
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert body["meta"]["time_zone"] == "Asia/Kolkata"
        kolkata = datetime.now(UTC) + timedelta(hours=5, minutes=30)
        assert body["meta"]["now"][:10] in {
            (kolkata - timedelta(minutes=1)).date().isoformat(), kolkata.date().isoformat()
        }
    finally:
        stop(process)

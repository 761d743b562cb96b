"""Slow clients, connection floods, log floods and an open dashboard.

Every client here targets 127.0.0.1 only, opens a bounded number of sockets and stops
by itself within a bounded time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import re
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ownstats.server import (
    HostGuard,
    Limits,
    LocalServer,
    LocalStack,
    RateLimitFilter,
    listen_socket,
)
from tests.cli.processes import CHROME, free_port, start, stop, wait_for_port

BEACON = "/hello.gif?v=1&t=pv&u=https%3A%2F%2Fexample.com%2F&id=x"
PARTIAL = b"GET /hello.gif?v=1&t=pv HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"


def get(port: int, path: str = BEACON, host: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"User-Agent": CHROME}
        if host is not None:
            headers["Host"] = host
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """True once the server closes ``sock`` (EOF or reset) before ``deadline`` (or when
    it is found closed at the first look, if the deadline has passed already)."""
    while True:
        remaining = deadline - time.monotonic()
        sock.settimeout(max(remaining, 0.01))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        if not data:
            return True
        if remaining <= 0:
            return False


@contextlib.contextmanager
def local_server(tmp_path: Path, limits: Limits) -> Iterator[tuple[int, int]]:
    """The collector and dashboard listeners of ``ownstats serve``, in a thread."""
    stack = LocalStack(tmp_path / "lake", ["example.com"])
    port, dashboard_port = free_port(), free_port()
    server = LocalServer(
        stack,
        listen_socket("127.0.0.1", port),
        listen_socket("127.0.0.1", dashboard_port),
        "127.0.0.1",
        limits,
    )
    stack.start()
    started = threading.Event()
    thread = threading.Thread(target=server.run, args=(started.set,), daemon=True)
    thread.start()
    try:
        assert started.wait(30), "server did not start"
        yield port, dashboard_port
    finally:
        server.stop()
        thread.join(60)
        stack.stop()


def test_half_open_requests_are_closed_at_the_deadline(tmp_path: Path) -> None:
    with local_server(tmp_path, Limits(request_timeout_s=1.0, keep_alive_s=1)) as (port, _):
        opened = time.monotonic()
        partial = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
        for sock in partial:
            sock.sendall(PARTIAL)  # and never the blank line that ends the headers
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
        trickle = socket.create_connection(("127.0.0.1", port))
        try:
            # meanwhile everyone else is answered
            assert [get(port)[0] for _ in range(20)] == [200] * 20
            for _ in range(8):  # a byte every 0.2 s must not extend the deadline
                with contextlib.suppress(OSError):
                    trickle.sendall(b"G")
                time.sleep(0.2)
            deadline = opened + 1.0 + 2.0  # the timeout plus slack for a busy machine
            assert all(closed_by_server(s, deadline) for s in partial), "partial request held"
            assert all(closed_by_server(s, deadline) for s in silent), "silent client held"
            assert closed_by_server(trickle, deadline), "trickling client held"
            assert get(port)[0] == 200
        finally:
            for sock in [*partial, *silent, trickle]:
                sock.close()


def test_idle_keep_alive_connections_are_closed(tmp_path: Path) -> None:
    limits = Limits(request_timeout_s=5.0, keep_alive_s=1)
    with (
        local_server(tmp_path, limits) as (port, _),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.sendall(f"GET {BEACON} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock, time.monotonic() + 1.0 + 2.0)


def test_at_the_connection_cap_waiting_connections_make_room(tmp_path: Path) -> None:
    limits = Limits(request_timeout_s=30.0, max_connections=20)
    with local_server(tmp_path, limits) as (port, _):
        hogs = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
        try:
            for sock in hogs:
                with contextlib.suppress(OSError):
                    sock.sendall(PARTIAL)
            started = time.monotonic()
            assert [get(port)[0] for _ in range(20)] == [200] * 20
            assert time.monotonic() - started < 10  # long before the 30 s deadline
            closed = sum(closed_by_server(s, time.monotonic() + 0.2) for s in hogs)
            assert closed >= 60 - 20  # the oldest waiting ones were closed for newcomers
        finally:
            for sock in hogs:
                sock.close()


def test_endless_request_heads_are_refused(tmp_path: Path) -> None:
    with local_server(tmp_path, Limits(max_header_bytes=4096)) as (port, _):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /hello.gif?v=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            answer = b""
            sock.settimeout(0.05)
            for _ in range(20):  # 1 KB header lines, never a blank line
                sock.sendall(b"X-Pad: " + b"a" * 1024 + b"\r\n")
                with contextlib.suppress(TimeoutError):
                    answer = sock.recv(4096)
                    break
            assert answer.startswith(b"HTTP/1.1 400")
        assert get(port)[0] == 200


def test_repeated_log_lines_are_rate_limited() -> None:
    now = [0.0]
    limiter = RateLimitFilter(interval_s=10.0, clock=lambda: now[0])
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("tests.ratelimit")
    logger.propagate = False
    handler = Keep()
    handler.addFilter(limiter)
    logger.addHandler(handler)
    try:
        for i in range(1000):
            logger.error("cannot accept: %s (fd %d)", "Too many open files", i)
            now[0] += 0.001
        logger.warning("something else")
        assert records == ["cannot accept: Too many open files (fd 0)", "something else"]
        now[0] += 10.0
        logger.error("cannot accept: %s (fd %d)", "Too many open files", 1000)
        assert records[-1] == (
            "cannot accept: Too many open files (fd 1000) "
            "[999 more like this in the last 10 s, not shown]"
        )
        assert limiter.suppressed == 999
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8081", True),
        ("localhost:8081", True),
        ("LOCALHOST", True),
        ("[::1]:8081", True),
        ("192.0.2.7:9000", True),  # an address cannot be rebound; an SSH tunnel's port differs
        ("evil.test:8081", False),
        ("127.0.0.1.evil.test", False),
        ("localhost.evil.test:8081", False),
        ("[::1]", True),
        ("[::1].evil.example", False),  # the part after "]" is a name, not a port
        ("[::1]:8081.evil.example", False),
        ("[::1]x:80", False),
        ("", False),
    ],
)
def test_dashboard_host_check(host: str, allowed: bool) -> None:
    assert HostGuard(lambda *a: None, "127.0.0.1").allows(host) is allowed  # type: ignore[arg-type]


def listening(port: int) -> set[str]:
    """The local addresses a TCP port listens on (Linux /proc), e.g. {'0.0.0.0'}."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.fixture
def public_serve(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    process = start("serve", "--host", "0.0.0.0", "--port", str(port), "--data", str(tmp_path))
    wait_for_port(port, process)
    wait_for_port(port + 1, process)
    yield port, process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_public_collector_serves_no_dashboard(public_serve: tuple) -> None:
    port, process = public_serve
    assert get(port)[0] == 200
    assert get(port, "/hello.js")[0] == 200
    for path in ("/", "/api/sites", "/api/summary?period=today", "/_dash/app.js"):
        assert get(port, path)[0] == 404, path
    status, body = get(port + 1, "/api/sites")  # the dashboard: port + 1, loopback
    assert status == 200 and "sites" in json.loads(body)
    assert get(port + 1, "/")[0] == 200
    if Path("/proc/net/tcp").exists():
        assert listening(port) == {"0.0.0.0"}
        assert listening(port + 1) == {"127.0.0.1"}
    # DNS rebinding: a page of evil.test re-pointed at 127.0.0.1 sends its own name
    assert get(port + 1, "/api/sites", host=f"evil.test:{port + 1}")[0] == 421
    assert get(port + 1, "/", host=f"localhost:{port + 1}")[0] == 200
    code, out, err = stop(process)
    assert code == 0, err
    assert f"dashboard http://localhost:{port + 1}/" in out
    assert f'src="http://0.0.0.0:{port}/hello.js"' in out


def test_dashboard_flags(tmp_path: Path) -> None:
    port, board = free_port(), free_port()
    process = start(
        "serve",
        "--port",
        str(port),
        "--dashboard-host",
        "localhost",
        "--dashboard-port",
        str(board),
        "--data",
        str(tmp_path),
    )
    try:
        wait_for_port(board, process)
        assert get(board, "/api/sites", host=f"localhost:{board}")[0] == 200
        assert get(port, "/api/sites")[0] == 404
    finally:
        code, out, err = stop(process, signal.SIGINT)
    assert code == 0, err
    assert f"dashboard http://localhost:{board}/" in out


def test_a_thousand_half_open_connections_do_not_stop_collection(tmp_path: Path) -> None:
    """The adversarial finding: 1,100 half-open connections stopped collection and wrote
    48 MB of "Too many open files" in 10 s. Default limits, a real process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    count = min(1100, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200)
    port = free_port()
    process = start("serve", "--port", str(port), "--data", str(tmp_path))
    sockets: list[socket.socket] = []
    try:
        wait_for_port(port, process)
        opened = time.monotonic()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            with contextlib.suppress(OSError):
                sock.sendall(PARTIAL)
            sockets.append(sock)
        assert [get(port)[0] for _ in range(20)] == [200] * 20
        deadline = opened + Limits().request_timeout_s + 10
        assert all(closed_by_server(s, deadline) for s in sockets)
        assert get(port)[0] == 200
    finally:
        for sock in sockets:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        code, out, err = stop(process)
    assert code == 0, err
    assert "stopped: 21 events stored" in out
    assert len(err) < 10_000, err[:2000]


def test_demo_serves_the_dashboard_it_prints(tmp_path: Path) -> None:
    port = free_port()
    process = start(
        "demo",
        "--port",
        str(port),
        "--data",
        str(tmp_path / "demo"),
        "--days",
        "1",
        "--visits-per-day",
        "20",
        "--duration",
        "20",
    )
    try:
        assert process.stdout is not None
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = re.search(r"dashboard (http://\S+/)", line)
            url = match.group(1) if match else None
        assert url, "the demo printed no dashboard URL"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
        with urllib.request.urlopen(url + "api/sites", timeout=30) as response:
            assert "example.com" in json.dumps(json.load(response))
    finally:
        code, _, err = stop(process, signal.SIGINT)
    assert code == 0, err


def test_a_loopback_collector_keeps_the_dashboard_on_its_own_port(tmp_path: Path) -> None:
    """``ownstats serve`` as documented: http://localhost:8080/ is the dashboard, since
    nobody else can reach a loopback port; the Host check still applies to it."""
    port = free_port()
    process = start("serve", "--port", str(port), "--data", str(tmp_path))
    try:
        wait_for_port(port, process)
        assert get(port)[0] == 200 and get(port, "/hello.js")[0] == 200
        assert get(port, "/")[0] == 200 and get(port, "/api/sites")[0] == 200
        assert get(port, "/api/sites", host=f"evil.test:{port}")[0] == 421
        assert get(port, "/hello.gif", host=f"evil.test:{port}")[0] == 200  # the tracker
    finally:
        code, out, err = stop(process)
    assert code == 0, err
    assert f"dashboard http://localhost:{port}/" in out


def test_behind_a_proxy_the_dashboard_moves_off_the_collector(tmp_path: Path) -> None:
    """With --trust-proxy a proxy forwards the public to the collector: it must not
    forward the statistics too."""
    port = free_port()
    process = start("serve", "--port", str(port), "--data", str(tmp_path), "--trust-proxy")
    try:
        wait_for_port(port + 1, process)
        assert get(port, "/api/sites")[0] == 404
        assert get(port + 1, "/api/sites")[0] == 200
    finally:
        code, out, err = stop(process)
    assert code == 0, err
    assert f"dashboard http://localhost:{port + 1}/" in out

"""``ownstats serve``: collector, processor and dashboard in one local process.

Browser → ``/hello.gif`` (collector) → spool (disk) + in-memory stream → ``Pump`` →
the Lambda's own ``process_event`` → ``LakeSink`` (Parquet) → ``Engine`` (DuckDB
views) → dashboard. The sink flushes every half second and the engine re-lists the
lake before a query when its view is older than half a second, so a hit is queryable
within 2 s.

Durability: a beacon is answered 200 only once its raw line is fsync'ed in the spool
(``ownstats.collector.Spool``); the spool lets go of lines once their events are in
Parquet files, and a start replays whatever is left. A stop (SIGINT/SIGTERM) drains the
stream and flushes; if the lake cannot be written, the lines stay in the spool and the
stop says so (``LocalStack.kept``).

Two listeners, one event loop: the collector (``/hello.js``, ``/hello.gif`` only) on
``--host``/``--port``, which may face the internet; the dashboard and its API on
``--dashboard-host``/``--dashboard-port`` (loopback, port + 1 by default), answering
only requests whose ``Host`` is its own (DNS-rebinding defence). Both have a deadline
for reading a request, an idle keep-alive timeout and a connection cap
(``Limits``); repeated log lines are rate-limited (``RateLimitFilter``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import h11
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from ownstats.collector import Pump, Spool, Stream, routes, spool_dir
from ownstats.engine import Engine
from ownstats.lake import LakeSink, LakeWriteError, events_dir, salts_dir
from stream_processor.pipeline import BatchResult, Processor
from stream_processor.visitor import FileSaltStore

log = logging.getLogger(__name__)

FLUSH_S = 0.5  # lake autoflush and pump interval: together well under the 2 s promise


@dataclass
class LocalStack:
    """Everything AWS runs, as local objects: stream, processor, lake sink, engine.

    ``durable`` (the default) puts the spool in front of the stream; without it a beacon
    is acknowledged from memory (benchmarks measure the difference).
    """

    data_dir: Path
    domains: Sequence[str]
    trust_proxy: bool = False
    on_result: Callable[[BatchResult], None] | None = None
    stream: Stream = field(default_factory=Stream)
    durable: bool = True
    mask_paths: Sequence[str] = ()
    #: the sites' time zones for the dashboard (``--time-zone``; empty: UTC)
    time_zone: str = ""

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.sink = LakeSink(self.data_dir, max_buffer_age_s=FLUSH_S, autoflush_s=FLUSH_S)
        self.processor = Processor(
            domains=self.domains,
            sink=self.sink,
            salts=FileSaltStore(salts_dir(self.data_dir)),
            mask_paths=self.mask_paths,
        )
        self.spool = Spool(spool_dir(self.data_dir), self.stream) if self.durable else None
        self.pump = Pump(
            self.stream,
            self.processor,
            interval_s=FLUSH_S,
            on_result=self.on_result,
            on_progress=self._stored_through,
        )
        self.engine = Engine(self.data_dir, max_staleness_s=FLUSH_S, refresh_in_background=True)
        #: lines read back from the spool at start (left by a crash or a failed stop)
        self.replayed = 0
        self._replay_through = 0
        #: after ``stop``: beacons not stored in the lake, kept in the spool (0: all stored)
        self.kept = 0
        #: after ``stop``: why they could not be stored
        self.stop_error: str | None = None

    @property
    def spool_dir(self) -> Path:
        return spool_dir(self.data_dir)

    def start(self) -> None:
        warm_up()
        if self.spool is not None:
            try:
                self.replayed = self.spool.open()
            except OSError as error:
                raise SystemExit(
                    f"error: cannot use the spool {self.spool_dir}: {error}; beacons are "
                    "answered only once they are on disk there (check permissions and space)"
                ) from None
            if self.replayed:
                # some of these events may have reached the lake before the crash
                self.sink.skip_stored(True)
                self._replay_through = self.stream.next_sequence - 1
        self.pump.start()

    def _stored_through(self, processed: int) -> None:
        """The pump processed every line up to sequence ``processed``: once their events
        are in Parquet files, the spool deletes them."""
        try:
            self.sink.flush()
        except LakeWriteError:
            return  # logged by the sink; the lines stay in the spool, the next tick retries
        if self.spool is not None:
            self.spool.release(processed)
        if self._replay_through and processed >= self._replay_through:
            self._replay_through = 0
            self.sink.skip_stored(False)

    def stop(self) -> None:
        """Process what is on the stream and write it all. Whatever cannot be written
        stays in the spool: ``kept`` says how many beacons, ``stop_error`` why."""
        if self.spool is not None:
            self.spool.close()  # the listeners are closed: commit the last group
        try:
            self.pump.stop()
        except Exception as error:  # what it had not processed is still in the spool
            log.exception("processing the last lines failed")
            self.stop_error = f"processing failed: {error}"
        try:
            self.sink.close()
        except LakeWriteError:
            self.stop_error = (
                f"cannot write {events_dir(self.data_dir)}: {self.sink.last_error}"
                " (check free disk space and permissions)"
            )
        if self.spool is not None:
            self.kept = self.spool.unreleased
        else:
            self.kept = len(self.stream) + self.sink.pending
        if self.kept and self.stop_error is None:
            self.stop_error = f"{len(self.stream):,} records could not be processed (see above)"
        if not self.kept:
            self.sink.compact()
        self.engine.close()


def warm_up() -> None:
    """Run one made-up beacon through a throwaway processor (memory salts, memory sink),
    so the first real one does not wait for the user-agent and bot tables to load
    (a second or more): "queryable within 2 s" holds for the first hit too."""
    from stream_processor.logline import format_line, logged_request
    from stream_processor.sinks import MemorySink
    from stream_processor.visitor import MemorySaltStore

    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    record = {
        "timestamp": f"{time.time():.3f}",
        "c-ip": "192.0.2.1",
        "sc-status": "200",
        "cs-method": "GET",
        "x-edge-request-id": "warm-up",
        **logged_request("/hello.gif?v=1&t=pv&u=https%3A%2F%2Fexample.com%2F&id=w", chrome),
    }
    try:
        Processor(domains=[], sink=MemorySink(), salts=MemorySaltStore()).process(
            [(0, format_line(record))]
        )
    except Exception:  # only an optimisation
        log.debug("warm-up failed", exc_info=True)


def dashboard(stack: LocalStack) -> list[BaseRoute]:
    """The dashboard's routes over the local engine."""
    from ownstats.dashboard import dashboard_routes
    from ownstats.dashboard.api_keys import KeyStore
    from ownstats.dashboard.funnels import FunnelStore

    return list(
        dashboard_routes(
            stack.engine, configured=stack.domains, time_zone=stack.time_zone,
            api_keys=KeyStore(stack.data_dir), funnels=FunnelStore(stack.data_dir).list,
        )
    )  # fmt: skip


def collector_app(stack: LocalStack) -> Starlette:
    """What the public listener serves: ``/hello.js`` and ``/hello.gif``, nothing else."""
    return Starlette(routes=routes(stack.stream, trust_proxy=stack.trust_proxy, spool=stack.spool))


def dashboard_app(stack: LocalStack, host: str) -> ASGIApp:
    """The dashboard and its API, answering only requests addressed to it."""
    return HostGuard(Starlette(routes=dashboard(stack)), host)


# -- the dashboard's Host check --------------------------------------------------------------


def host_name(header: str) -> str:
    """The name part of a ``Host`` header (no port, no IPv6 brackets), lower-case."""
    header = header.strip().lower()
    if header.startswith("["):
        address, _, rest = header[1:].partition("]")
        # only ``[addr]`` or ``[addr]:port``: ``[::1].evil.example`` is a name, not ::1
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return header
        return address
    name, colon, port = header.rpartition(":")
    return (name if colon and port.isdigit() else header).rstrip(".")


class HostGuard:
    """DNS-rebinding defence: a page of ``evil.test`` whose name is re-pointed at
    127.0.0.1 reaches this port with ``Host: evil.test``; it gets 421, not statistics.

    Allowed: ``localhost``, an IP address literal (a name is needed to rebind, an
    address cannot be), and the listener's own host name. The port is not compared,
    so an SSH tunnel (``ssh -L 9000:localhost:8081``) works.
    """

    def __init__(self, app: ASGIApp, host: str) -> None:
        self.app = app
        self.names = {"localhost", host_name(host)}

    def allows(self, header: str) -> bool:
        name = host_name(header)
        if name in self.names:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = ""
            for key, value in scope["headers"]:
                if key == b"host":
                    host = value.decode("latin-1")
                    break
            if not self.allows(host):
                response = PlainTextResponse(
                    "421 Misdirected Request: this is the ownstats dashboard; open it as "
                    "http://localhost:<port>/ or by IP address\n",
                    status_code=421,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- slow clients: request deadline, connection cap -------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What one client may hold of a listener.

    ``request_timeout_s``: a request (line, headers, body) must arrive whole this long
    after the connection opened, or after its first byte on a kept-alive connection;
    otherwise the connection is closed (a slow-loris client holds nothing for long).
    ``keep_alive_s``: an idle connection between requests is closed after this.
    ``max_connections``: beyond it, the connection waiting longest for its request is
    closed to make room (an attacker's half-open ones, not a request being answered);
    if every one is busy, the new one is closed. ``None``: from the open-file limit.
    ``max_header_bytes``: what h11 buffers of a request head before it ends; beyond it
    the request gets 400 (a head arriving whole in one read is parsed as it is).
    """

    request_timeout_s: float = 10.0
    keep_alive_s: int = 5
    max_connections: int | None = None
    dashboard_max_connections: int = 64
    max_header_bytes: int = 16 * 1024
    #: how long a repeated log message is held back (with a count) after it was shown
    log_repeat_s: float = 10.0


def open_files_limit() -> int:
    """Raise the soft open-file limit to the hard one (each connection is a file); the limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = min(hard, 1 << 20) if hard != resource.RLIM_INFINITY else 1 << 20
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return int(soft)


def default_max_connections(open_files: int) -> int:
    """A cap that leaves room for the lake, DuckDB, the spool and the dashboard."""
    return max(32, min(4096, (open_files - 256) // 2))


def guarded_protocol(request_timeout_s: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol plus a whole-request deadline and a connection cap.

    uvicorn closes idle kept-alive connections (``timeout_keep_alive``) but has no
    timeout while a request is being read: a client that connects, or sends half a
    request, and stops holds its connection (and a file handle) forever.
    """

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _since = 0.0  # when this connection started waiting for its current request

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._since = self.loop.time()
            self._arm()
            if len(self.connections) > max_connections:
                self._make_room()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                self._disarm()
            elif self._reading():
                self._arm()  # no-op if armed: the deadline counts from the first byte
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            self._since = self.loop.time()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _reading(self) -> bool:
            """Waiting for (the rest of) a request, no response in progress."""
            return self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and (
                self.cycle is None or self.cycle.response_complete
            )

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(request_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self._reading() and not self.transport.is_closing():
                self.transport.close()

        def _make_room(self) -> None:
            waiting = [
                c
                for c in self.connections
                if isinstance(c, GuardedH11Protocol) and c is not self and c._reading()
            ]
            victim = min(waiting, key=lambda c: c._since, default=self)
            if victim is self:
                log.warning(
                    "%d connections open, all busy: a new connection was refused",
                    len(self.connections) - 1,
                )
            victim._disarm()
            victim.transport.close()
            # uncounted now, not when connection_lost runs: the next connection_made of
            # the same accept batch must not pick this one again
            self.connections.discard(victim)

    return GuardedH11Protocol


# -- logs -------------------------------------------------------------------------------------


class RateLimitFilter(logging.Filter):
    """The same message (logger, level, first line of the text before formatting) at
    most once per ``interval_s``; the next one shown says how many were held back.

    A full disk or an exhausted file table makes every request and every tick fail the
    same way; this keeps the log readable and the disk it may be writing to intact.
    """

    def __init__(self, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self.suppressed = 0  # in total, for tests and the curious
        self._seen: dict[tuple[str, int, str], list[float]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_rate_limited", None)
        if decided is not None:  # the same record at a second handler: the same answer
            return not decided
        record._rate_limited = not self._allow(record)
        return not record._rate_limited

    def _allow(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg).split("\n", 1)[0][:200])
        now = self.clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.interval_s:
                entry[1] += 1
                self.suppressed += 1
                return False
            held = int(entry[1]) if entry is not None else 0
            if len(self._seen) >= 1000:  # bounded: forget the oldest half
                for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:500]:
                    del self._seen[old]
            self._seen[key] = [now, 0]
        if held:
            record.msg = (
                f"{record.msg} [{held} more like this in the last {self.interval_s:g} s, not shown]"
            )
        return True


@contextlib.contextmanager
def rate_limited_logs(interval_s: float) -> Iterator[RateLimitFilter]:
    """Warnings and errors to stderr, each repeated message at most once per interval."""
    limiter = RateLimitFilter(interval_s)
    root = logging.getLogger()
    added: logging.Handler | None = None
    if not root.handlers:
        added = logging.StreamHandler()
        added.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(added)
    # the processor's logger (Powertools) has its own handler and does not propagate
    handlers = [*root.handlers, *logging.getLogger("stream_processor").handlers]
    for handler in handlers:
        handler.addFilter(limiter)
    try:
        yield limiter
    finally:
        for handler in handlers:
            handler.removeFilter(limiter)
        if added is not None:
            root.removeHandler(added)


# -- listeners --------------------------------------------------------------------------------


def check_port(host: str, port: int) -> None:
    """Fail early, with what to do, when the port is taken (uvicorn would only log it)."""
    listen_socket(host, port).close()


def listen_socket(host: str, port: int, flag: str = "--port") -> socket.socket:
    """A socket bound to host:port, or SystemExit saying what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every response waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise SystemExit(
                f"error: port {port} on {host} is already in use; "
                f"pass another one, e.g. {flag} {port + 2}"
            ) from None
        raise SystemExit(f"error: cannot listen on {host}:{port}: {error.strerror}") from None
    except socket.gaierror as error:
        sock.close()
        raise SystemExit(f"error: cannot listen on {host}:{port}: {error}") from None
    sock.listen(256)  # now: on Linux two bound but not listening sockets may share a port
    return sock


def _uvicorn_server(app: ASGIApp, protocol: type[H11Protocol], limits: Limits) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """Signals are handled once for both listeners (``LocalServer``), and a stop
        must flush everything and exit 0 instead of re-raising the signal."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app,
        http=protocol,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # uvicorn trusts X-Forwarded-For from loopback by default; only --trust-proxy may
        proxy_headers=False,
        timeout_keep_alive=limits.keep_alive_s,
        timeout_graceful_shutdown=30,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        backlog=256,
    )
    return Server(config)


class LocalServer:
    """The collector and dashboard listeners on one event loop, until ``stop()``."""

    def __init__(
        self,
        stack: LocalStack,
        collector: socket.socket,
        dashboard: socket.socket | None,
        dashboard_host: str,
        limits: Limits,
    ) -> None:
        cap = limits.max_connections or default_max_connections(open_files_limit())
        protocol = guarded_protocol(limits.request_timeout_s, cap)
        if dashboard is None:  # one loopback port serves both (``shares_port``)
            self.sockets = [collector]
            shared = SharedApp(collector_app(stack), dashboard_app(stack, dashboard_host))
            self.servers = [_uvicorn_server(shared, protocol, limits)]
            return
        self.sockets = [collector, dashboard]
        self.servers = [
            _uvicorn_server(collector_app(stack), protocol, limits),
            _uvicorn_server(
                dashboard_app(stack, dashboard_host),
                guarded_protocol(limits.request_timeout_s, limits.dashboard_max_connections),
                limits,
            ),
        ]

    def stop(self, force: bool = False) -> None:
        for server in self.servers:
            server.should_exit = True
            server.force_exit = server.force_exit or force

    def run(self, ready: Callable[[], None] | None = None) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: Callable[[], None] | None) -> None:
        tasks = [
            asyncio.create_task(server.serve(sockets=[sock]))
            for server, sock in zip(self.servers, self.sockets, strict=True)
        ]
        while not all(server.started for server in self.servers):
            if any(task.done() for task in tasks):
                break
            await asyncio.sleep(0.01)
        else:
            if ready is not None:
                ready()
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        self.stop()  # one listener ended (a stop, or a failure): end the other
        for task in tasks:
            await task


@contextlib.contextmanager
def stop_signals(stop: Callable[[bool], None]) -> Iterator[None]:
    """SIGINT/SIGTERM call ``stop(False)``; a second SIGINT ``stop(True)`` (force).

    Installed before anything listens: a signal that arrives while the spool is being
    replayed must stop the server cleanly, not kill the process by default action.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = threading.Event()

    def handle(sig: int, frame: FrameType | None) -> None:
        stop(sig == signal.SIGINT and stopping.is_set())
        stopping.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shares_port(host: str, dashboard_port: int | None, trust_proxy: bool) -> bool:
    """Whether the dashboard is served at ``/`` of the collector's own port.

    Only where nobody else can reach that port: a loopback collector (the default,
    ``http://localhost:8080/`` as ever) with no proxy in front. A public collector, or
    one behind a proxy (``--trust-proxy``: the proxy would forward the dashboard too),
    gets the dashboard on its own loopback listener instead.
    """
    return is_loopback(host) and dashboard_port is None and not trust_proxy


def dashboard_address(port: int, dashboard_port: int | None, *, shared: bool = False) -> int:
    """The dashboard's port: the collector's when shared, else ``--dashboard-port`` or
    the collector's port + 1."""
    if shared:
        return port
    return dashboard_port if dashboard_port is not None else port + 1


class SharedApp:
    """One listener for both: the tracker's two paths for anyone, the rest of the
    paths (the dashboard) behind the Host check."""

    def __init__(self, collector: ASGIApp, board: ASGIApp) -> None:
        self.collector, self.board = collector, board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in ("/hello.js", "/hello.gif"):
            await self.collector(scope, receive, send)
        else:
            await self.board(scope, receive, send)


def serve(
    stack: LocalStack,
    host: str,
    port: int,
    *,
    dashboard_host: str = "127.0.0.1",
    dashboard_port: int | None = None,
    limits: Limits | None = None,
    ready: Callable[[], None] | None = None,
    share: bool | None = None,
) -> None:
    """Run until SIGINT/SIGTERM, then stop the stack (``stack.kept`` says what is left).

    ``share`` forces (or forbids) one port for collector and dashboard; by default
    ``shares_port`` decides.
    """
    limits = limits or Limits()
    shared = shares_port(host, dashboard_port, stack.trust_proxy) if share is None else share
    dashboard_port = dashboard_address(port, dashboard_port, shared=shared)
    server: LocalServer | None = None
    stopped: list[bool] = []  # a stop requested before the listeners exist

    def stop(force: bool) -> None:
        stopped.append(force)
        if server is not None:
            server.stop(force)

    with stop_signals(stop), rate_limited_logs(limits.log_repeat_s):
        collector = listen_socket(host, port)
        board = None
        if not shared:
            try:
                board = listen_socket(dashboard_host, dashboard_port, "--dashboard-port")
            except SystemExit:
                collector.close()
                raise
        server = LocalServer(stack, collector, board, dashboard_host, limits)
        if stopped:
            server.stop()
        try:
            stack.start()
        except BaseException:
            for sock in (collector, board):
                if sock is not None:
                    sock.close()
            raise
        try:
            server.run(ready)
        finally:
            stack.stop()

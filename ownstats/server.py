"""``ownstats serve``: collector, processor and dashboard in one local process.

Browser → ``/hello.gif`` (collector) → in-memory stream → ``Pump`` → the Lambda's own
``process_event`` → ``LakeSink`` (Parquet) → ``Engine`` (DuckDB views) → dashboard.
The sink flushes every half second and the engine re-lists the lake before a query
when its view is older than half a second, so a hit is queryable within 2 s.
Shutdown (SIGINT/SIGTERM, via uvicorn's lifespan) drains the stream and flushes.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from ownstats.collector import Pump, Stream, routes
from ownstats.engine import Engine
from ownstats.lake import LakeSink
from stream_processor.pipeline import BatchResult, Processor
from stream_processor.visitor import FileSaltStore

log = logging.getLogger(__name__)

FLUSH_S = 0.5  # lake autoflush and pump interval: together well under the 2 s promise


def salts_dir(data_dir: Path) -> Path:
    """Local salts live beside the lake, never inside ``events/`` (docs/PROTOCOL.md, privacy)."""
    return data_dir / "salts"


@dataclass
class LocalStack:
    """Everything AWS runs, as local objects: stream, processor, lake sink, engine."""

    data_dir: Path
    domains: Sequence[str]
    trust_proxy: bool = False
    on_result: Callable[[BatchResult], None] | None = None
    stream: Stream = field(default_factory=Stream)

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.sink = LakeSink(self.data_dir, max_buffer_age_s=FLUSH_S, autoflush_s=FLUSH_S)
        self.processor = Processor(
            domains=self.domains, sink=self.sink, salts=FileSaltStore(salts_dir(self.data_dir))
        )
        self.pump = Pump(self.stream, self.processor, interval_s=FLUSH_S, on_result=self.on_result)
        self.engine = Engine(self.data_dir, max_staleness_s=FLUSH_S)

    def start(self) -> None:
        self.pump.start()

    def stop(self) -> None:
        """Process what is on the stream and write it all; nothing accepted is left behind."""
        self.pump.stop()
        self.sink.close()
        self.sink.compact()
        self.engine.close()


def dashboard(stack: LocalStack) -> list[BaseRoute]:
    """The dashboard's routes over the local engine."""
    from ownstats.dashboard import dashboard_routes

    return list(dashboard_routes(stack.engine))


def build_app(stack: LocalStack) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stack.start()
        try:
            yield
        finally:
            stack.stop()

    return Starlette(
        routes=[*routes(stack.stream, trust_proxy=stack.trust_proxy), *dashboard(stack)],
        lifespan=lifespan,
    )


def check_port(host: str, port: int) -> None:
    """Fail early, with what to do, when the port is taken (uvicorn would only log it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise SystemExit(
                    f"error: port {port} on {host} is already in use; "
                    f"pass another one, e.g. --port {port + 1}"
                ) from None
            raise SystemExit(f"error: cannot listen on {host}:{port}: {error.strerror}") from None


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown (the process then
        dies by the signal); a stop must flush everything and exit 0 instead."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {
                sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def serve(
    stack: LocalStack, host: str, port: int, *, ready: Callable[[], None] | None = None
) -> None:
    """Run until SIGINT/SIGTERM; uvicorn's graceful shutdown runs the lifespan's stop."""
    import uvicorn

    check_port(host, port)
    config = uvicorn.Config(
        build_app(stack),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # uvicorn trusts X-Forwarded-For from loopback by default; only --trust-proxy may
        proxy_headers=False,
    )
    server = _server_class()(config)
    if ready is not None:
        original = server.startup

        async def startup(sockets: list[socket.socket] | None = None) -> None:
            await original(sockets)
            ready()

        server.startup = startup  # type: ignore[method-assign]
    server.run()

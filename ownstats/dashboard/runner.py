"""Runs the dashboard's queries on a backend: a thread pool, plus a short-lived cache.

Why: on Athena every query takes a second or more and costs money, so the panels of
one page load must run side by side (``parallel``), and the same query asked again
within the refresh interval (another tab, the 10 s live refresh, a CSV export right
after the table) must not run twice (``cache_ttl_s``). Identical queries already in
flight share one execution. Locally (DuckDB, milliseconds) both default to off.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from ownstats.results import QueryResult

__all__ = ["Backend", "Runner"]

#: the most distinct queries kept; a dashboard sends a few dozen per state
_MAX_ENTRIES = 1024


class Backend(Protocol):
    """What the dashboard needs of ``Engine`` and ``AthenaBackend`` alike."""

    def query(self, sql: str) -> QueryResult:  # pragma: no cover - protocol
        ...


class Runner:
    """Submits Athena-SQL queries to a backend from async handlers."""

    def __init__(
        self,
        backend: Backend,
        *,
        cache_ttl_s: float = 0,
        parallel: bool = False,
        max_workers: int = 8,
    ) -> None:
        self.backend = backend
        self.cache_ttl_s = cache_ttl_s
        # one worker serialises queries: the safe default for a backend of unknown
        # thread-safety; several let Athena run a page's panels at once
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers if parallel else 1, thread_name_prefix="ownstats-dash"
        )
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Future[QueryResult]]] = {}

    def submit(self, sql: str, *, fresh: bool = False) -> Future[QueryResult]:
        """The result of ``sql``: cached, shared with an identical query in flight, or run.

        ``fresh`` skips the cache (still sharing a run in flight), for answers that must
        not be stale, such as "does this site exist yet?".
        """
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(sql)
            if entry is not None and (not entry[1].done() or (entry[0] > now and not fresh)):
                return entry[1]
            future = self._pool.submit(self.backend.query, sql)
            self._entries[sql] = (float("inf"), future)
            if len(self._entries) > _MAX_ENTRIES:
                self._prune(now)
        future.add_done_callback(lambda f: self._settle(sql, f))
        return future

    def _settle(self, sql: str, future: Future[QueryResult]) -> None:
        with self._lock:
            if self._entries.get(sql, (0, None))[1] is not future:
                return
            if future.exception() is not None or self.cache_ttl_s <= 0:
                del self._entries[sql]  # errors are never cached; no TTL, no cache
            else:
                self._entries[sql] = (time.monotonic() + self.cache_ttl_s, future)

    def _prune(self, now: float) -> None:
        for key in [k for k, (expires, f) in self._entries.items() if f.done() and expires <= now]:
            del self._entries[key]

    async def run(self, *sqls: str, fresh: bool = False) -> list[QueryResult]:
        """Run ``sqls`` (side by side when parallel) without blocking the event loop."""
        futures = [asyncio.wrap_future(self.submit(sql, fresh=fresh)) for sql in sqls]
        return list(await asyncio.gather(*futures))

    def close(self) -> None:
        """Stop the worker threads (queries already running finish first)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

"""The query runner: panels side by side when parallel, a TTL cache, errors never cached."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from ownstats.dashboard.runner import Runner
from ownstats.engine import QueryResult

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: Playwright's sync API (browser tests in the
    same session) keeps an event loop running on the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Recording:
    """A backend that counts calls and can hold queries until released."""

    def __init__(self, gate: threading.Barrier | None = None, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.gate = gate
        self.fail = fail
        self.lock = threading.Lock()

    def query(self, sql: str) -> QueryResult:
        with self.lock:
            self.calls.append(sql)
        if self.gate is not None:
            self.gate.wait(timeout=0.5)  # raises BrokenBarrierError unless run side by side
        if self.fail:
            raise RuntimeError("backend down")
        return QueryResult(columns=["sql"], rows=[(sql,)])


def test_parallel_runs_a_pages_queries_side_by_side() -> None:
    backend = Recording(gate=threading.Barrier(3))
    runner = Runner(backend, parallel=True)
    results = run_async(runner.run("SELECT 1", "SELECT 2", "SELECT 3"))
    assert [r.rows[0][0] for r in results] == ["SELECT 1", "SELECT 2", "SELECT 3"]
    runner.close()


def test_serial_runner_runs_one_query_at_a_time() -> None:
    backend = Recording(gate=threading.Barrier(2))
    runner = Runner(backend, parallel=False)
    with pytest.raises(threading.BrokenBarrierError):
        run_async(runner.run("SELECT 1", "SELECT 2"))
    runner.close()


def test_cache_answers_repeats_within_the_ttl() -> None:
    backend = Recording()
    runner = Runner(backend, cache_ttl_s=0.3)
    run_async(runner.run("SELECT 1"))
    run_async(runner.run("SELECT 1"))
    assert backend.calls == ["SELECT 1"]
    run_async(runner.run("SELECT 1", fresh=True))
    assert len(backend.calls) == 2
    time.sleep(0.35)
    run_async(runner.run("SELECT 1"))
    assert len(backend.calls) == 3
    runner.close()


def test_no_ttl_means_no_cache_and_errors_are_not_cached() -> None:
    backend = Recording()
    runner = Runner(backend)
    run_async(runner.run("SELECT 1"))
    run_async(runner.run("SELECT 1"))
    assert len(backend.calls) == 2
    failing = Recording(fail=True)
    cached = Runner(failing, cache_ttl_s=60)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="backend down"):
            run_async(cached.run("SELECT 1"))
    assert len(failing.calls) == 2
    runner.close()
    cached.close()


def test_identical_queries_in_flight_share_one_run() -> None:
    release = threading.Event()

    class Slow(Recording):
        def query(self, sql: str) -> QueryResult:
            release.wait(timeout=2)
            return super().query(sql)

    backend = Slow()
    runner = Runner(backend, parallel=True)
    first, second = runner.submit("SELECT 1"), runner.submit("SELECT 1")
    release.set()
    assert first.result(timeout=2) is second.result(timeout=2)
    assert backend.calls == ["SELECT 1"]
    runner.close()

"""Processor fixtures: a processor over a memory sink, and a one-line runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from factories import make_line

from stream_processor.pipeline import Processor
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def processor(sink: MemorySink) -> Processor:
    return Processor(domains=["example.com"], sink=sink, salts=MemorySaltStore())


@pytest.fixture
def one_event(processor: Processor, sink: MemorySink) -> Callable[..., dict[str, Any]]:
    """Run one line; return its event (fails the test when it was dropped)."""

    def run(query: str | None = None, **fields: str) -> dict[str, Any]:
        outcome = processor.run(make_line(query, **fields))
        assert isinstance(outcome, dict), f"dropped: {outcome}"
        return outcome

    return run

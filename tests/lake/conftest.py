"""Fixtures for the lake tests: a factory of valid processor events (the sink protocol's
input: dicts keyed by the schema's columns, event_time in epoch milliseconds)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from stream_processor.schema import ALL_COLUMN_NAMES

DAY1 = "2026-03-01"
DAY2 = "2026-03-02"
MIDNIGHT = {DAY1: 1_772_323_200_000, DAY2: 1_772_409_600_000}

EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_event() -> EventFactory:
    ids = itertools.count(1)

    def make(day: str = DAY1, **overrides: Any) -> dict[str, Any]:
        n = next(ids)
        event: dict[str, Any] = dict.fromkeys(ALL_COLUMN_NAMES)
        event.update(
            event_id=f"req-{n:06d}",
            event_time=MIDNIGHT[day] + n * 1000,
            event_type="pageview",
            domain_name="example.com",
            page_path=f"/p{n % 5}",
            visitor_id=f"{n % 7:016x}",
            props=None,
            screen_width=1920,
            edge_latitude=50.03,
            event_date=day,
        )
        event.update(overrides)
        return event

    return make

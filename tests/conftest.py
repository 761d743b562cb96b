"""Fixtures shared by every suite, and the clock-ahead run's rules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

#: set by scripts/test's second run (tests/clock_ahead/sitecustomize.py moves the clock)
CLOCK_AHEAD = os.environ.get("OWNSTATS_CLOCK_AHEAD_DAYS")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the clock-ahead run, leave out what cannot run on a moved clock: a browser's
    clock and DuckDB's ``current_timestamp`` are not Python's, so they stay on today."""
    if not CLOCK_AHEAD:
        return
    skip = pytest.mark.skip(reason="needs a clock outside Python (browser or SQL now())")
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("real_clock"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pw() -> Iterator[Any]:
    """One Playwright driver per session: the sync API allows only one at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A region and dummy credentials, so boto3 clients build under moto's mock_aws."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

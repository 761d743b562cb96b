"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def pw() -> Iterator[Any]:
    """One Playwright driver per session: the sync API allows only one at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver

"""Debian's Chromium for the browser suites: one launch recipe (``from chromium import …``).

Never a downloaded browser. The background-networking flags keep Chromium from
calling home on a machine whose network is closed. A missing browser fails the
suite rather than skipping it: ``scripts/test`` installs it, so a skip could only
hide a broken setup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch(playwright: Any, *extra_args: str) -> Any:
    """A headless Chromium browser, driven through Playwright's Python API."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is missing at /usr/bin/chromium: run scripts/test (it installs "
            "it) or apt-get install chromium"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, *extra_args])

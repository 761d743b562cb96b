"""Debian's Chromium for the browser suites: one launch recipe and the page scripts they share.

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

# Chromium (driven or not) says navigator.webdriver === true, which the tracker
# honours by sending nothing; tests that expect beacons pose as a normal browser.
NOT_WEBDRIVER = "Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => false})"

# Page functions for `page.evaluate`: a tab switch, as the tracker sees it.
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
  Object.defineProperty(document, 'hidden', {value: true, configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = """() => {
  Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
  Object.defineProperty(document, 'hidden', {value: false, configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def launch(playwright: Any, *extra_args: str) -> Any:
    """A headless Chromium browser, driven through Playwright's Python API."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is missing at /usr/bin/chromium: run scripts/test (it installs "
            "it) or apt-get install chromium"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, *extra_args])

"""The clock-ahead run (scripts/test's second pytest run) really moves the clock.

Without this, a broken ``tests/clock_ahead/sitecustomize.py`` would make the second run
a copy of the first that proves nothing. The kernel's clock (a new file's mtime) is
the real one; Python's, in this process and in a process a test starts, must be 400
days ahead of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import CLOCK_AHEAD

pytestmark = pytest.mark.skipif(not CLOCK_AHEAD, reason="only in the clock-ahead run")
DAY_S = 86_400


def real_now(tmp_path: Path) -> float:
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    return probe.stat().st_mtime


def test_this_process_runs_days_ahead(tmp_path: Path) -> None:
    ahead = time.time() - real_now(tmp_path)
    assert abs(ahead - float(str(CLOCK_AHEAD)) * DAY_S) < 3600
    assert abs(datetime.now(UTC).timestamp() - time.time()) < 60


def test_a_started_command_runs_days_ahead_too(tmp_path: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    ).stdout
    assert abs(float(shown) - real_now(tmp_path) - float(str(CLOCK_AHEAD)) * DAY_S) < 3600

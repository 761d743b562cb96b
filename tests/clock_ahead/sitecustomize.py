"""Moves the clock of every Python process of a test run ahead, when asked.

``scripts/test`` runs the suite a second time with ``OWNSTATS_CLOCK_AHEAD_DAYS=400``
and this folder on ``PYTHONPATH``: Python imports ``sitecustomize`` at start-up, so the
pytest workers and every ``ownstats`` process a test starts (serve, ingest, query, demo)
see the same moved wall clock (``time.time``, ``datetime.now``, ``date.today``; the
monotonic clock, which only measures durations, is left alone). A test that passes only
on the day it was written, or for some days after (a fixed date compared with the real
clock: salts destroyed after 48 hours, "today"), fails there, on the day it is written,
instead of on a later CI run.
"""

from __future__ import annotations

import os

_DAYS = os.environ.get("OWNSTATS_CLOCK_AHEAD_DAYS")
if _DAYS:
    import time

    import time_machine

    # tick: time passes from the moved instant at the real pace
    time_machine.travel(time.time() + float(_DAYS) * 86_400, tick=True).start()

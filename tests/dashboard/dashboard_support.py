"""Shared by the dashboard tests and their fixtures: the generated lake's shape and
helpers. (pytest's importlib mode cannot import conftest; conftest puts this folder on
sys.path.)"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from factories import beacon_query, make_line

from ownstats.lake import LakeSink, partition_dir
from ownstats.traffic import lines
from stream_processor.pipeline import Processor
from stream_processor.visitor import MemorySaltStore

DOMAINS = ("example.com", "blog.example.org")
FIRST_DAY = date(2026, 3, 1)
LAST_DAY = date(2026, 3, 14)
VISITS = 1400
#: the browser tests' clock (naive UTC): mid-afternoon of the lake's last day
NOW = datetime.combine(LAST_DAY, clock(14, 30))
#: (source, campaign) a visitor can send through a link: markup and a formula
HOSTILE = ("<img src=x onerror=alert(1)>", '=HYPERLINK("http://x.example","y")')
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def epoch(day: date) -> float:
    """Seconds since the epoch at the day's UTC midnight."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@dataclass
class Lake:
    """The generated lake and a way to add traffic to it later (live tests)."""

    data_dir: Path

    def add(
        self, domains: tuple[str, ...], start_s: float, end_s: float, visits: int, seed: int
    ) -> None:
        """Realistic traffic through the real processor into the lake."""
        sink = LakeSink(self.data_dir)
        processor = Processor(domains=DOMAINS, sink=sink, salts=MemorySaltStore())
        batch = lines(list(domains), start_s, end_s, visits, seed=seed, noise_share=0.02)
        processor.process(enumerate(batch))
        sink.close()

    def add_hostile_visits(self, domain: str, day: date) -> None:
        """Visits whose source and campaign are markup and a spreadsheet formula: what
        anyone can put in a link to the site (``?utm_source=…``)."""
        noon = epoch(day) + 12 * 3600
        records = [
            make_line(
                beacon_query(u=f"https://{domain}/pricing", us=source, uc=campaign),
                timestamp=f"{noon + i * 60:.3f}",
                c_ip=f"198.51.100.{i + 1}",
            )
            # ten visitors each: enough to rank in any top-10 panel of that day
            for i, (source, campaign) in enumerate((HOSTILE, HOSTILE[::-1]) * 10)
        ]
        sink = LakeSink(self.data_dir)
        Processor(domains=DOMAINS, sink=sink, salts=MemorySaltStore()).process(enumerate(records))
        sink.close()

    def add_duplicates(self, day: date, rows: int) -> None:
        """At-least-once delivery: ``rows`` stored events of ``day`` written again."""
        directory = partition_dir(self.data_dir, day.isoformat())
        table = pq.read_table(sorted(directory.glob("*.parquet"))[0]).slice(0, rows)
        pq.write_table(table, directory / "copies-of-retried-batch.parquet")

    def add_live_visits(self, domain: str, visits: int, seed: int) -> None:
        """Visits stamped within the last minute: what current_visitors counts."""
        now = time.time()
        self.add((domain,), now - 60, now, visits, seed)


def q(**params: Any) -> dict[str, Any]:
    """Query parameters with the suite's defaults (first site, the whole window)."""
    base: dict[str, Any] = {
        "site": DOMAINS[0],
        "period": "custom",
        "from": FIRST_DAY.isoformat(),
        "to": LAST_DAY.isoformat(),
    }
    base.update(params)
    return {k: v for k, v in base.items() if v is not None}

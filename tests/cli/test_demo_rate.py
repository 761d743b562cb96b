"""The demo's live visits continue the history: the same visits a day, the same daily
and weekly rhythm (issue: a fixed 2 visits/s on ~400 a day showed today up 385 %)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ownstats import traffic

DAY = 86400
START = 1_795_737_600.0  # 2026-11-26 00:00 UTC, a Thursday
DAYS = 28
PER_DAY = 400


def history_starts() -> list[float]:
    """Visit starts as the history generator (``traffic.hits``) draws them."""
    rng = random.Random(3)
    return [traffic.visit_start(rng, START, DAYS * DAY) for _ in range(DAYS * PER_DAY)]


def live_starts(seed: int = 4) -> list[float]:
    rng = random.Random(seed)
    t, out = START, []
    while True:
        t = traffic.next_visit_time(rng, PER_DAY, t)
        if t >= START + DAYS * DAY:
            return out
        out.append(t)


def shares(starts: list[float], key: object) -> dict[int, float]:
    counts = Counter(key(t) for t in starts)  # type: ignore[operator]
    return {k: v / len(starts) for k, v in counts.items()}


def test_live_visits_come_at_the_historys_pace() -> None:
    live = live_starts()
    assert len(live) == pytest.approx(DAYS * PER_DAY, rel=0.05)


def test_live_visits_keep_the_historys_daily_and_weekly_rhythm() -> None:
    history, live = history_starts(), live_starts()
    by_hour = lambda t: int(t % DAY // 3600)  # noqa: E731
    weekend = lambda t: int(int(t // DAY + 3) % 7 >= 5)  # noqa: E731
    for key, tolerance in ((by_hour, 0.012), (weekend, 0.02)):
        a, b = shares(history, key), shares(live, key)
        assert max(abs(a.get(k, 0) - b.get(k, 0)) for k in a.keys() | b.keys()) < tolerance
    # the afternoon peak is there in both, the night is quieter
    assert shares(live, by_hour)[15] > 1.5 * shares(live, by_hour)[3]


def test_rate_at_integrates_to_the_visits_of_a_day() -> None:
    week = sum(traffic.rate_at(PER_DAY, START + s) * 60 for s in range(0, 7 * DAY, 60))
    assert week == pytest.approx(7 * PER_DAY, rel=0.01)


def test_a_history_ending_in_the_morning_has_no_crowd_at_its_end() -> None:
    """The demo's history ends at "now". Its afternoon-peak visits after the end were
    clamped to the end: at 09:30, the last minute held dozens of one-page visits and
    today showed +42 % visitors and +30 pp bounce rate against yesterday."""
    end = START + 7 * DAY + 9.5 * 3600
    per_day = 600
    hits = list(traffic.hits(["example.com"], START, end, int(7.4 * per_day), seed=5))
    visits = [h for h in hits if h.query.get("t") == "pv"]
    last_hour = sum(1 for h in visits if h.time_s >= end - 3600)
    same_hour_before = sum(1 for h in visits if end - DAY - 3600 <= h.time_s < end - DAY)
    assert all(h.time_s < end for h in hits)
    # the last hour looks like the same hour a day earlier, not like a crowd
    assert last_hour < 1.5 * same_hour_before + 10

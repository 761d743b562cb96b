"""The engine's per-day materialisation returns exactly what the live views return, and
follows the lake as files arrive, are compacted or disappear."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ownstats.engine import Engine, QueryError
from ownstats.lake import LakeSink, partition_dir

if TYPE_CHECKING:  # conftest is not importable under importlib mode
    from conftest import Dataset

DAY1_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
DAY2_MS = DAY1_MS + 86_400_000


def _sorted_rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    # sort on the non-float columns: the floats may differ in their last bit
    rows = engine.query(sql).rows
    return sorted(rows, key=lambda r: repr([v for v in r if not isinstance(v, float)]))


def test_materialised_equals_live(dataset: Dataset, engine: Engine) -> None:
    assert "sessions" in engine.materialized_views
    assert "daily_stats" in engine.materialized_views
    assert "events_deduped" in engine.materialized_views  # kept per day: every panel reads it
    live_only = {"page_views", "current_visitors"}
    assert not live_only & set(engine.materialized_views)
    with Engine(dataset.data_dir, materialize=False) as live:
        assert live.materialized_views == []
        for name in engine.materialized_views:
            got = _sorted_rows(engine, f"SELECT * FROM {name}")
            want = _sorted_rows(live, f"SELECT * FROM {name}")
            assert len(got) == len(want), name
            for got_row, want_row in zip(got, want, strict=True):
                # sums of doubles may differ in the last bit with the summation order
                for a, b in zip(got_row, want_row, strict=True):
                    if isinstance(b, float):
                        assert a == pytest.approx(b, rel=1e-12), name
                    else:
                        assert a == b, name


def _pv(event_id: str, visitor: str, ms: int, path: str = "/") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_time": ms,
        "event_type": "pageview",
        "domain_name": "site.example",
        "page_path": path,
        "visitor_id": visitor,
        "source": "Direct / None",
    }


def _daily(engine: Engine) -> list[tuple[Any, ...]]:
    return engine.query(
        "SELECT event_date, visitors, visits, pageviews FROM daily_stats ORDER BY event_date"
    ).rows


def test_follows_new_compacted_and_removed_files(tmp_path: Path) -> None:
    engine = Engine(tmp_path, max_staleness_s=0)  # check the lake before every query
    assert _daily(engine) == []
    sink = LakeSink(tmp_path, max_buffer_rows=1)
    sink.put([_pv("a", "v1", DAY1_MS + 1000)])
    assert _daily(engine) == [("2026-03-01", 1, 1, 1)]

    sink.put([_pv("b", "v2", DAY1_MS + 2000), _pv("c", "v2", DAY1_MS + 3000, "/x")])
    sink.put([_pv("d", "v3", DAY2_MS + 1000)])
    sink.put([_pv("a", "v1", DAY1_MS + 1000)])  # a redelivered copy
    assert _daily(engine) == [("2026-03-01", 2, 2, 3), ("2026-03-02", 1, 1, 1)]

    assert sink.compact() > 0  # files rewritten: same numbers
    assert _daily(engine) == [("2026-03-01", 2, 2, 3), ("2026-03-02", 1, 1, 1)]
    sink.close()

    shutil.rmtree(partition_dir(tmp_path, "2026-03-01"))  # a day deleted (retention)
    assert _daily(engine) == [("2026-03-02", 1, 1, 1)]
    shutil.rmtree(partition_dir(tmp_path, "2026-03-02"))
    assert _daily(engine) == []
    engine.close()


def test_staleness_bound_and_explicit_refresh(tmp_path: Path) -> None:
    with LakeSink(tmp_path) as sink:
        sink.put([_pv("a", "v1", DAY1_MS + 1000)])
    engine = Engine(tmp_path, max_staleness_s=3600)
    assert _daily(engine) == [("2026-03-01", 1, 1, 1)]
    with LakeSink(tmp_path) as sink:
        sink.put([_pv("b", "v2", DAY1_MS + 5000)])
    assert _daily(engine) == [("2026-03-01", 1, 1, 1)]  # within the staleness bound
    engine.refresh()
    assert _daily(engine) == [("2026-03-01", 2, 2, 2)]
    engine.close()


def test_query_results_shape(engine: Engine) -> None:
    result = engine.query("SELECT event_date, pageviews FROM daily_stats LIMIT 1")
    assert result.columns == ["event_date", "pageviews"]
    assert list(result.as_dicts()[0]) == ["event_date", "pageviews"]
    assert engine.query("SELECT 1 WHERE false").rows == []


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE sessions", "only queries"),
        ("INSERT INTO events SELECT * FROM events", "only queries"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT * FROM sessions__nope", "sessions__nope"),
    ],
)
def test_errors_leave_the_engine_usable(engine: Engine, sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        engine.query(sql)
    assert engine.query("SELECT count(*) FROM sessions").rows[0][0] > 0
    assert engine.query("DESCRIBE daily_stats").rows

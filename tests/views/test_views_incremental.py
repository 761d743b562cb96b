"""Incremental materialisation: a day whose files were appended to is updated from its
new files alone, a rewritten day by a diff, and every view then returns exactly what the
live views return; the background refresh serves the last committed state, never a
half-applied one, and keeps going through unreadable files and a closing engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ownstats.engine import Engine, appended_files, classify
from ownstats.lake import LakeSink, partition_files
from stream_processor.schema import ALL_COLUMN_NAMES

DAY1, DAY2, DAY3 = "2026-03-01", "2026-03-02", "2026-03-03"
DAY1_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
DAY_MS = 86_400_000
MINUTE = 60_000


def _at(day: str, hh: int, mm: int, ss: int = 0) -> int:
    offset = {DAY1: 0, DAY2: 1, DAY3: 2}[day]
    return DAY1_MS + offset * DAY_MS + ((hh * 60 + mm) * 60 + ss) * 1000


def _ev(
    event_id: str,
    visitor: str | None,
    ms: int,
    kind: str = "pageview",
    *,
    domain: str = "a.example",
    path: str = "/",
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = dict.fromkeys(ALL_COLUMN_NAMES)
    event.update(
        event_id=event_id,
        event_time=ms,
        event_type=kind,
        domain_name=domain,
        page_path=path,
        visitor_id=visitor,
        source="Direct / None",
        channel="Direct",
        device_type="desktop",
        browser_name="Firefox",
        os_name="Linux",
        country_code="DE",
    )
    event.update(extra)
    return event


def _sort_key(row: tuple[Any, ...]) -> str:
    # sort on the non-float columns: sums of doubles may differ in their last bit
    return repr([v for v in row if not isinstance(v, float)])


def assert_same_as_live(engine: Engine, data_dir: Path) -> None:
    """Every view (materialised or not) and ``events`` give the live engine's rows."""
    with Engine(data_dir, materialize=False) as live:
        for name in ["events", *engine.view_names]:
            got = sorted(engine.query(f"SELECT * FROM {name}").rows, key=_sort_key)
            want = sorted(live.query(f"SELECT * FROM {name}").rows, key=_sort_key)
            assert len(got) == len(want), name
            for got_row, want_row in zip(got, want, strict=True):
                assert len(got_row) == len(want_row), name
                for a, b in zip(got_row, want_row, strict=True):
                    if isinstance(b, float):
                        assert a == pytest.approx(b, rel=1e-12), (name, got_row, want_row)
                    else:
                        assert a == b, (name, got_row, want_row)


def _flush(sink: LakeSink, events: list[dict[str, Any]]) -> None:
    """One lake file per day, as one flush of the local writer leaves them."""
    assert sink.put(events) == []
    sink.flush()


# step 0: what the engine first materialises
INITIAL = [
    # v1: a visit 10:00-10:05 with engaged time, then a bounce at 11:00 (gap 55 min)
    _ev("e01", "v1", _at(DAY1, 10, 0), path="/", source="Google", channel="Organic Search"),
    _ev("e02", "v1", _at(DAY1, 10, 0, 20), "engagement", path="/", engagement_ms=5000),
    _ev("e03", "v1", _at(DAY1, 10, 5), path="/pricing"),
    _ev("e04", "v1", _at(DAY1, 11, 0), path="/docs"),
    # v2: a bounce
    _ev("e05", "v2", _at(DAY1, 9, 0), path="/", source="Google", channel="Organic Search"),
    # v3: a page view and a custom event with props
    _ev("e06", "v3", _at(DAY1, 12, 0), path="/signup"),
    _ev("e07", "v3", _at(DAY1, 12, 1), "event", path="/signup", event_name="Signup",
        props={"plan": "pro"}),
    # v4 on another site: two page views
    _ev("e08", "v4", _at(DAY1, 8, 0), domain="b.example"),
    _ev("e09", "v4", _at(DAY1, 8, 20), domain="b.example", path="/shop"),
    # another day
    _ev("e10", "v5", _at(DAY2, 14, 0)),
]  # fmt: skip

STEPS: list[tuple[str, list[dict[str, Any]], set[str]]] = [
    (
        "copies of stored events, a late page view extending a bounce, a new visitor",
        [
            _ev(
                "e01", "v1", _at(DAY1, 10, 0), path="/", source="Google", channel="Organic Search"
            ),  # a redelivered copy
            _ev(
                "e07",
                "v3",
                _at(DAY1, 12, 1),
                "event",
                path="/signup",
                event_name="Signup",
                props={"plan": "pro"},
            ),  # another one
            _ev("e11", "v2", _at(DAY1, 9, 10), path="/about"),  # v2 is no longer a bounce
            _ev("e12", "v6", _at(DAY1, 13, 0), path="/blog"),  # a new visitor
            _ev(
                "e13", "v6", _at(DAY1, 13, 0, 30), "engagement", path="/blog", engagement_ms=25_000
            ),
            _ev("e12", "v6", _at(DAY1, 13, 0), path="/blog"),  # a copy in the same file
        ],
        {DAY1},
    ),
    (
        "a page view merging two visits, engagement only, copies under other visitor ids",
        [
            # 10:05 -> 10:30 -> 11:00 (exactly 30 min): v1's two visits become one
            _ev("e14", "v1", _at(DAY1, 10, 30), path="/blog"),
            # engagement only: a new visitor that never makes a visit
            _ev("e15", "v7", _at(DAY1, 15, 0), "engagement", engagement_ms=3000),
            # engagement extending v4's visit on the other site
            _ev(
                "e16",
                "v4",
                _at(DAY1, 8, 45),
                "engagement",
                domain="b.example",
                path="/shop",
                engagement_ms=40_000,
            ),
            # the same request ingested again under another salt: this copy sorts first
            # (smaller visitor_id), so it replaces the kept one and v2 loses its entry
            _ev(
                "e05",
                "0000v2",
                _at(DAY1, 9, 0),
                path="/",
                source="Google",
                channel="Organic Search",
            ),
            # ... and this one sorts after the kept copy: ignored
            _ev("e06", "zzzzv3", _at(DAY1, 12, 0), path="/signup"),
            # the other day grows too
            _ev("e17", "v5", _at(DAY2, 14, 10), path="/pricing"),
            _ev("e18", "v8", _at(DAY2, 16, 0)),
        ],
        {DAY1, DAY2},
    ),
    (
        "a custom event in an existing visit, and a new day (recomputed in full)",
        [
            _ev(
                "e19",
                "v2",
                _at(DAY1, 9, 5),
                "event",
                path="/about",
                event_name="Download",
                props={"file": "a.pdf", "via": "nav"},
            ),
            _ev("e20", "v9", _at(DAY3, 7, 0)),
        ],
        {DAY1},
    ),
    (
        "an earlier event of a visitor starting a new first visit, an event-only visit",
        [
            _ev("e21", "v3", _at(DAY1, 6, 0), path="/", source="Bing", channel="Organic Search"),
            _ev(
                "e22",
                "v10",
                _at(DAY1, 17, 0),
                "event",
                event_name="Outbound Link: Click",
                props={"url": "https://x.example/"},
            ),
            _ev("e23", "v9", _at(DAY3, 7, 20), path="/docs"),
        ],
        {DAY1, DAY3},
    ),
]


def test_appends_equal_a_full_recompute(tmp_path: Path) -> None:
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=3600)  # refreshed explicitly below
    engine.refresh()
    assert engine.last_recompute is not None
    assert set(engine.last_recompute.full) == {DAY1, DAY2}
    assert_same_as_live(engine, tmp_path)

    for what, events, appended in STEPS:
        _flush(sink, events)
        engine.refresh()
        assert set(engine.last_recompute.appended) == appended, what
        assert_same_as_live(engine, tmp_path)

    # compaction rewrites the day: a diff against the kept rows, with the same rows (it
    # keeps the first copy of e05 it reads, which need not be the one kept so far)
    assert sink.compact(DAY1) > 0
    engine.refresh()
    assert engine.last_recompute.rewritten == (DAY1,)
    assert engine.last_recompute.full == ()
    assert_same_as_live(engine, tmp_path)

    # and the next flush is an append again
    _flush(sink, [_ev("e24", "v1", _at(DAY1, 11, 20), path="/contact")])
    engine.refresh()
    assert engine.last_recompute.appended == (DAY1,)
    assert_same_as_live(engine, tmp_path)

    # only copies of stored events: the append changes nothing
    _flush(sink, [_ev("e24", "v1", _at(DAY1, 11, 20), path="/contact")])
    engine.refresh()
    assert engine.last_recompute.appended == (DAY1,)
    assert_same_as_live(engine, tmp_path)

    # a file removed (not by compaction): its events are gone
    _flush(sink, [_ev("e25", "v11", _at(DAY1, 18, 0)), _ev("e26", "v1", _at(DAY1, 11, 25))])
    engine.refresh()
    newest = max(partition_files(tmp_path, DAY1), key=lambda p: p.stat().st_mtime_ns)
    newest.unlink()
    engine.refresh()
    assert engine.last_recompute.rewritten == (DAY1,)
    assert_same_as_live(engine, tmp_path)

    # a whole day removed (retention): recomputed in full, to nothing
    for path in partition_files(tmp_path, DAY2):
        path.unlink()
    engine.refresh()
    assert engine.last_recompute.full == (DAY2,)
    assert_same_as_live(engine, tmp_path)
    sink.close()
    engine.close()


def test_queries_pick_up_appends_on_their_own(tmp_path: Path) -> None:
    """The default (synchronous) mode: a query after an append sees it, incrementally."""
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=0)
    assert_same_as_live(engine, tmp_path)
    for _what, events, _days in STEPS:
        _flush(sink, events)
        visits = engine.query("SELECT sum(visits) FROM daily_stats").rows
        with Engine(tmp_path, materialize=False) as live:
            assert visits == live.query("SELECT sum(visits) FROM daily_stats").rows
    assert engine.last_recompute.appended == (DAY1, DAY3)
    assert_same_as_live(engine, tmp_path)
    sink.close()
    engine.close()


def test_null_visitor_falls_back_to_a_full_recompute(tmp_path: Path) -> None:
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=3600)
    engine.refresh()
    _flush(sink, [_ev("n1", None, _at(DAY1, 10, 1)), _ev("n2", "v1", _at(DAY1, 10, 2))])
    engine.refresh()
    assert engine.last_recompute.full == (DAY1,)
    assert engine.last_recompute.appended == ()
    assert_same_as_live(engine, tmp_path)
    sink.close()
    engine.close()


def test_rewrite_keeping_another_copy(tmp_path: Path) -> None:
    """A rewrite may leave a different copy of an event than the one kept so far (the
    compaction keeps the views' winner, but a file deleted by hand or a restored backup
    does not): the diff follows the files, as the live views do."""
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, [_ev("c1", "zz-late-salt", _at(DAY1, 9, 0)), _ev("c2", "v1", _at(DAY1, 9, 5))])
    _flush(sink, [_ev("c1", "aa-early-salt", _at(DAY1, 9, 0))])  # sorts first: the winner
    engine = Engine(tmp_path, max_staleness_s=3600)
    engine.refresh()
    winner = "SELECT visitor_id FROM events_deduped WHERE event_id = 'c1'"
    assert engine.query(winner).rows == [("aa-early-salt",)]
    _, second = sorted(partition_files(tmp_path, DAY1), key=lambda p: p.stat().st_mtime_ns)
    second.unlink()  # the winning copy's file goes
    engine.refresh()
    assert engine.last_recompute.rewritten == (DAY1,)
    assert engine.query(winner).rows == [("zz-late-salt",)]
    assert_same_as_live(engine, tmp_path)
    sink.close()
    engine.close()


def test_appended_files() -> None:
    a, b, c = ("a.parquet", 10, 1), ("b.parquet", 20, 2), ("c.parquet", 30, 3)
    assert appended_files((a,), (a, b, c)) == ["b.parquet", "c.parquet"]
    assert appended_files((a, b), (a, b)) is None  # nothing new
    assert appended_files((a, b), (a, c)) is None  # b removed
    assert appended_files((a,), (("a.parquet", 11, 1), b)) is None  # a rewritten
    assert appended_files(None, (a,)) is None  # a day seen for the first time
    assert appended_files((a,), None) is None  # a day removed
    assert classify((a,), (a, b)) == ["b.parquet"]
    assert classify((a, b), (c,)) == "rewrite"
    assert classify(None, (a,)) is None
    assert classify((a,), None) is None


# -- background refresh ----------------------------------------------------------------


def _wait_for(predicate: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _caught_up(engine: Engine) -> bool:
    """The background refresh has applied every file it listed, to every view."""
    with engine._lock:
        return not (engine._lake_changed() or engine._stale() or any(engine._lagging.values()))


def _visits(engine: Engine) -> int:
    return engine.query("SELECT coalesce(sum(visits), 0) FROM daily_stats").rows[0][0]


def test_default_engine_refreshes_in_the_query(tmp_path: Path) -> None:
    with Engine(tmp_path) as engine:
        assert not engine.refreshes_in_background


def test_background_refresh_never_makes_a_query_wait(tmp_path: Path) -> None:
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=0.05, refresh_in_background=True)
    assert engine.refreshes_in_background
    assert _visits(engine) == 6  # the first materialisation may make a query wait
    _wait_for(engine._ready.is_set)

    # hold the refresh lock, as a long recompute would: queries still answer at once,
    # from the last committed state
    with engine._lock:
        before = engine.last_recompute  # the first materialisation's
        _flush(sink, STEPS[0][1])
        time.sleep(0.2)
        started = time.monotonic()
        assert _visits(engine) == 6
        assert time.monotonic() - started < 5
    # then the refresh takes the new file in. The refresh commits before it records
    # last_recompute, so a query can see 7 visits a moment before the record is made:
    # taking the lock waits for the round to finish (without it, this failed three times
    # on busy machines)
    _wait_for(lambda: _visits(engine) == 7)
    with engine._lock:
        after = engine.last_recompute
    assert after is not None and after is not before
    assert DAY1 in after.appended + after.full + after.rewritten
    _wait_for(lambda: _caught_up(engine))
    assert_same_as_live(engine, tmp_path)
    assert engine.refresh_error is None
    engine.close()
    assert engine._thread is not None and not engine._thread.is_alive()
    sink.close()


def test_background_readers_see_whole_recomputes_only(tmp_path: Path) -> None:
    """Each statement reads one committed state: the page views counted by the sessions
    (daily_stats) always equal the kept page views, whatever the refresh is doing."""
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=6)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=0.01, refresh_in_background=True)
    check = (
        "SELECT (SELECT coalesce(sum(pageviews), 0) FROM daily_stats), "
        "(SELECT count(*) FROM page_views)"
    )
    mismatches: list[tuple[Any, ...]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            row = engine.query(check).rows[0]
            if row[0] != row[1]:
                mismatches.append(row)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(40):  # compacted every few flushes: appends and full recomputes
            visitor = f"w{i % 7}"
            _flush(
                sink,
                [
                    _ev(f"x{i}a", visitor, _at(DAY1, 12, i)),
                    _ev(f"x{i}b", visitor, _at(DAY1, 12, i, 30), path="/x"),
                    _ev(f"x{i}c", f"u{i}", _at(DAY2, 1, i)),
                ],
            )
            time.sleep(0.03)
        expected = len(INITIAL) - 2 + 3 * 40  # page views: all but the event and engagement
        _wait_for(lambda: engine.query(check).rows[0] == (expected, expected))
        _wait_for(lambda: _caught_up(engine))
    finally:
        done.set()
        reader.join()
    assert mismatches == []
    assert engine.refresh_error is None
    assert_same_as_live(engine, tmp_path)
    engine.close()
    sink.close()


def test_a_file_gone_before_it_is_read_rolls_back_and_retries(tmp_path: Path) -> None:
    """A compaction may delete a listed file before the update reads it: the update rolls
    back whole, and the query's second attempt lists the lake again."""
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=0)
    before = _visits(engine)
    _flush(sink, STEPS[0][1])
    real_scan = engine._scan
    calls = 0

    def scan_with_a_ghost() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        listing = real_scan()
        if calls == 1:  # the first listing names a file that is gone when read
            listing[DAY1] = (*listing[DAY1], ("zz-gone.parquet", 10, 1))
        return listing

    engine._scan = scan_with_a_ghost  # type: ignore[method-assign]
    assert _visits(engine) == before + 1
    assert calls >= 2
    assert engine.last_recompute.appended == (DAY1,)
    assert_same_as_live(engine, tmp_path)
    sink.close()
    engine.close()


def test_close_interrupts_a_long_first_materialisation(tmp_path: Path) -> None:
    sink = LakeSink(tmp_path, max_buffer_rows=100_000, compact_threshold=1000)
    events = [
        _ev(f"big{i}", f"v{i % 5000}", _at(DAY1, 1 + i % 20, i % 60, i % 57)) for i in range(60_000)
    ]
    _flush(sink, events)
    sink.close()
    engine = Engine(tmp_path, refresh_in_background=True)
    time.sleep(0.2)  # inside the first materialisation
    started = time.monotonic()
    engine.close()
    assert time.monotonic() - started < 5
    assert engine._thread is not None and not engine._thread.is_alive()


def test_staged_update_commits_the_summary_first_and_catches_up_in_order(
    tmp_path: Path,
) -> None:
    """What the background refresh does, step by step: the events, visits and
    daily_stats in one transaction; then the other aggregates one per transaction, the
    graph first, a view never before a view it reads (exit_pages reads top_pages)."""
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=3600)
    engine.refresh()
    _flush(sink, STEPS[0][1])
    with engine._lock:
        engine._list()
        engine._materialize(staged=True)

    # read the kept tables as they are (a query of a synchronous engine catches up)
    def raw(sql: str) -> list[tuple[Any, ...]]:
        return engine._con.cursor().execute(sql).fetchall()

    assert raw("SELECT sum(visits) FROM daily_stats") == [(7,)]  # with the events
    lagging = set(engine._lagging)
    assert {"hourly_stats", "top_pages", "exit_pages", "sources"} <= lagging
    assert not lagging & {"sessions", "daily_stats", "events_deduped"}
    pages = "SELECT sum(pageviews) FROM top_pages WHERE domain_name = 'a.example'"
    assert raw(pages) == [(6,)]  # not yet: the page views before the flush
    order = []
    with engine._lock:
        while engine._lagging:
            before = set(engine._lagging)
            engine._catch_up(one=True)
            [done] = before - set(engine._lagging) or [None]
            order.append(done)
    assert order[0] == "hourly_stats"  # the graph of "today" first
    assert order.index("top_pages") < order.index("exit_pages")
    assert raw(pages) == [(8,)]
    assert_same_as_live(engine, tmp_path)
    sink.close()
    engine.close()


def test_background_refresh_survives_an_unreadable_file(tmp_path: Path) -> None:
    sink = LakeSink(tmp_path, max_buffer_rows=10_000, compact_threshold=1000)
    _flush(sink, INITIAL)
    engine = Engine(tmp_path, max_staleness_s=0.05, refresh_in_background=True)
    assert _visits(engine) == 6
    _wait_for(engine._ready.is_set)
    bad = partition_files(tmp_path, DAY1)[0].with_name("part-bad.parquet")
    bad.write_bytes(b"not parquet")
    _flush(sink, STEPS[0][1])
    # the unreadable file is set aside (lake_compactor.validate), the rest goes on
    _wait_for(lambda: _visits(engine) == 7)
    assert not bad.exists() and engine.quarantined == [
        str(tmp_path.resolve() / "quarantine" / bad.relative_to(tmp_path))
    ]
    assert engine.refresh_error is None
    _wait_for(lambda: _caught_up(engine))
    assert_same_as_live(engine, tmp_path)
    engine.close()
    sink.close()

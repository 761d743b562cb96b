"""Rollups (lake_compactor.rollups / roll_up): every rolled-up view's stored rows equal
what the views return over the same events, after every step: the first run, an
appended file, a crash between writes, a day removed, a changed view definition; a run
with nothing changed writes nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import lake_compactor.roll_up as roll_up_module
from athena_views import ROLLUPS_JSON, render_rollup_columns, rollup_columns
from lake_compactor.roll_up import roll_up
from lake_compactor.rollups import INDEX_KEY, month_key, rollup_schema, rollup_views
from lake_compactor.store import LocalStore
from ownstats.lake import LakeSink
from tests.rollup_checks import assert_rollups_equal_views, assert_zoned_rollups

from .conftest import DAYS, Dataset, generate


class Crash(BaseException):
    """The run dies here (no ``except Exception`` cleanup runs)."""


@pytest.fixture
def lake(dataset: Dataset, tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    shutil.copytree(dataset.data_dir / "events", root / "events")
    return root


def test_rollups_equal_the_views_and_a_second_run_writes_nothing(
    lake: Path, tmp_path: Path
) -> None:
    store = LocalStore(lake)
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.errors == []
    assert sorted(report.days) == list(DAYS)
    assert report.months == ["2026-03"]
    assert (lake / month_key("daily_stats", "2026-03")).is_file()
    assert_rollups_equal_views(lake)
    index = store.get_json(INDEX_KEY)
    assert index is not None and sorted(index["days"]) == list(DAYS)

    again = roll_up(store, workdir=tmp_path / "work")
    assert again.days == [] and again.objects == 0
    assert store.get_json(INDEX_KEY) == index


def test_an_appended_file_recomputes_its_day_only(lake: Path, tmp_path: Path) -> None:
    store = LocalStore(lake)
    roll_up(store, workdir=tmp_path / "work")
    late = [e for e in generate(seed=9) if e["event_date"] == DAYS[1]][:40]
    for n, event in enumerate(late):
        event["event_id"] = f"late-{n}"
    sink = LakeSink(lake, max_buffer_rows=1000, compact_threshold=10_000)
    assert sink.put(late) == []
    sink.close()
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.days == [DAYS[1]]
    assert_rollups_equal_views(lake)


def test_a_crash_between_writes_is_finished_by_the_next_run(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(lake)
    roll_up(store, workdir=tmp_path / "work")
    removed = sorted((lake / "events" / f"event_date={DAYS[0]}").glob("*.parquet"))[0]
    removed.unlink()  # the day changes (a file gone: rows removed)
    calls = {"n": 0}

    def die(step: str) -> None:
        calls["n"] += 1
        if step == "rollup_written" and calls["n"] == 3:
            raise Crash(step)

    monkeypatch.setattr(roll_up_module, "checkpoint", die)
    with pytest.raises(Crash):
        roll_up(store, workdir=tmp_path / "work")
    monkeypatch.setattr(roll_up_module, "checkpoint", lambda step: None)
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.days == [DAYS[0]]
    assert_rollups_equal_views(lake)


def test_a_crash_after_a_cut_visits_object_is_finished_by_the_next_run(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed days too big to load: a run killed right after it uploaded a day's cut
    visits (before the index) leaves the day to the next run, which writes it whole."""
    from lake_compactor.rollups import cuts_key

    store = LocalStore(lake)
    later = datetime(2026, 3, 9, tzinfo=UTC).timestamp()  # every day closed

    def run() -> roll_up_module.RollupReport:
        return roll_up(store, workdir=tmp_path / "work", load_limit=1, clock=lambda: later)

    def die(step: str) -> None:
        if step == "cuts_written":
            raise Crash(step)

    monkeypatch.setattr(roll_up_module, "checkpoint", die)
    with pytest.raises(Crash):
        run()
    assert (lake / cuts_key(DAYS[0])).is_file() and store.get_json(INDEX_KEY) is None
    monkeypatch.setattr(roll_up_module, "checkpoint", lambda step: None)
    assert sorted(run().days) == list(DAYS)
    index = store.get_json(INDEX_KEY)
    assert all(cuts_key(d) in index["files"] for d in DAYS)
    assert_rollups_equal_views(lake)  # (with every day's cut visits, hour by hour)
    assert run().days == []


def test_a_removed_day_and_a_new_definition(lake: Path, tmp_path: Path) -> None:
    store = LocalStore(lake)
    roll_up(store, workdir=tmp_path / "work")
    shutil.rmtree(lake / "events" / f"event_date={DAYS[2]}")
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.days == [DAYS[2]]
    assert_rollups_equal_views(lake)
    index = store.get_json(INDEX_KEY)
    assert index is not None and DAYS[2] not in index["days"]

    index["definition"] = "an older view set"
    store.put_json(INDEX_KEY, index)
    report = roll_up(store, workdir=tmp_path / "work")
    assert sorted(report.days) == list(DAYS[:2])
    assert_rollups_equal_views(lake)


def test_the_stacks_rollup_schema_file_is_what_duckdb_says_the_views_return() -> None:
    # athena_views/rollups.json: the Glue tables' columns (the CDK app has no DuckDB);
    # regenerate it with render_rollup_columns(rollup_schema()) after changing a view
    assert ROLLUPS_JSON.read_text(encoding="utf-8") == render_rollup_columns(rollup_schema())
    assert list(rollup_columns()) == rollup_views()


def test_cut_visits_and_stored_visits_are_the_visits_of_a_days_first_hours(
    lake: Path, tmp_path: Path
) -> None:
    """For every whole hour h of a closed day too big to load: its stored visits that
    ended before h, plus its cut visits of h, are exactly what ``sessions.sql`` gives over
    the day's events before h (what "the previous period until h:00" reads)."""
    import duckdb

    from lake_compactor.rollups import cuts_key, read_rollups
    from tests.rollup_checks import assert_cut_visits

    later = datetime(2026, 3, 9, tzinfo=UTC).timestamp()  # every day closed
    report = roll_up(LocalStore(lake), workdir=tmp_path / "work", load_limit=1, clock=lambda: later)
    assert report.errors == []
    going = 0
    for day in DAYS:
        assert_cut_visits(lake, day)
        cuts = read_rollups(repr(str(lake / cuts_key(day))))
        going += duckdb.connect().execute(f"SELECT count(*) FROM {cuts}").fetchall()[0][0]
    assert going > 20  # visits going on at whole hours: the check can fail


def test_a_day_too_big_to_load_is_rolled_up_by_whole_hours_and_cut_once_closed(
    lake: Path, tmp_path: Path
) -> None:
    """Every day over the load limit: today's rollups and visits cover its whole hours
    (the index names the hour), the closed days get cut visits; an hour later today is
    rolled up to the new hour with no new file; once closed it is rolled up whole, cut."""
    from datetime import UTC, datetime

    import duckdb

    from athena_views import load_views
    from lake_compactor.rollups import (
        create_views,
        cuts_key,
        events_select,
        files_literal,
        read_rollups,
        visits_key,
    )
    from tests.rollup_checks import _rows

    store = LocalStore(lake)
    today = DAYS[2]

    def at(moment: str) -> float:
        return datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()

    def run(moment: str) -> dict:
        report = roll_up(store, workdir=tmp_path / "work", clock=lambda: at(moment), load_limit=1)
        assert report.errors == []
        return store.get_json(INDEX_KEY)

    index = run(f"{today}T04:30:00")
    assert index["days"][today]["until"] == f"{today}T04:00:00"
    assert [d for d in DAYS if "until" in index["days"][d]] == [today]
    assert [d for d in DAYS if cuts_key(d) in index["files"]] == list(DAYS[:2])

    def rolled(view: str) -> list:
        path = lake / month_key(view, today[:7])
        con = duckdb.connect()
        return _rows(con.sql(f"SELECT * FROM {read_rollups(repr(str(path)))} "
                             f"WHERE event_date = '{today}'"))[0]  # fmt: skip

    def live(view: str, before: str) -> list:
        files = sorted((lake / "events").rglob("*.parquet"))
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            f"CREATE VIEW events AS SELECT * FROM ({events_select(files_literal(files))}) "
            f"WHERE event_date = '{today}' AND event_time < TIMESTAMP '{before}'"
        )
        create_views(con, load_views())
        return _rows(con.sql(f"SELECT * FROM {view}"))[0]

    for view in ("daily_stats", "top_pages", "sources"):
        assert rolled(view) == live(view, f"{today} 04:00:00"), view
    assert rolled("daily_stats") != live("daily_stats", f"{today} 23:59:59")  # can fail
    visits = lake / visits_key(today)
    con = duckdb.connect()
    assert _rows(con.sql(f"SELECT * FROM {read_rollups(repr(str(visits)))}"))[0] == live(
        "sessions", f"{today} 04:00:00"
    )

    index = run(f"{today}T05:05:00")  # no new file: the new hour is rolled up all the same
    assert index["days"][today]["until"] == f"{today}T05:00:00"
    assert rolled("daily_stats") == live("daily_stats", f"{today} 05:00:00")

    index = run("2026-03-04T00:10:00")  # closed: whole, and cut
    assert "until" not in index["days"][today]
    assert cuts_key(today) in index["files"]
    assert_rollups_equal_views(lake)
    assert run("2026-03-04T00:20:00") == index  # nothing changed: nothing written


def test_zoned_rollups_equal_the_dashboards_local_days_and_follow_the_setting(
    lake: Path, tmp_path: Path
) -> None:
    """Sites on their own clock (``-c time_zone``): each local day's rows equal the
    dashboard's SQL for that day, per zone and site; a second run writes nothing; a
    site moved to another zone is recomputed there; a zone no longer in use is deleted."""
    store = LocalStore(lake)
    spec = "Asia/Kolkata,shop.b.example=America/New_York"
    report = roll_up(store, workdir=tmp_path / "work", zones=spec)
    assert report.errors == []
    assert_zoned_rollups(lake, spec)
    assert roll_up(store, workdir=tmp_path / "work", zones=spec).days == []
    moved = "Asia/Kolkata,shop.b.example=Australia/Sydney"
    report = roll_up(store, workdir=tmp_path / "work", zones=moved)
    assert {d.split(" ")[0] for d in report.days} == {"Australia/Sydney"}
    assert_zoned_rollups(lake, moved)
    assert not list((lake / "rollups" / "zones").glob("America*/**/*.parquet"))
    index = store.get_json(INDEX_KEY)
    assert index is not None and sorted(index["zones"]) == ["Asia/Kolkata", "Australia/Sydney"]
    roll_up(store, workdir=tmp_path / "work")  # the setting removed
    assert not list((lake / "rollups" / "zones").rglob("*.parquet"))
    assert_rollups_equal_views(lake)


def test_zoned_days_at_scale_are_rolled_up_as_of_the_zones_hour_and_cut(
    lake: Path, tmp_path: Path
) -> None:
    """Every day over the load limit (today rolled up by whole hours) with sites on their
    own clock: a local day under way is rolled up until the zone's last whole hour before
    the compactor's (Kolkata's half an hour earlier), one that ended by then whole, one
    starting later not at all; each local day touching a day too big to load has its
    visits and cut visits; once today is closed every local day is rolled up whole."""
    from lake_compactor.rollups import cuts_key, visits_key
    from tests.rollup_checks import assert_zoned_cut_visits, assert_zoned_visits

    store = LocalStore(lake)
    spec = "Asia/Kolkata,shop.b.example=America/New_York"
    today = DAYS[2]  # (the test days' events fall between 00:10 and ~08:00 UTC)

    def run(moment: str) -> dict:
        clock = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
        report = roll_up(
            store, workdir=tmp_path / "work", clock=lambda: clock, load_limit=1, zones=spec
        )
        assert report.errors == []
        return store.get_json(INDEX_KEY)

    def until(index: dict, zone: str) -> dict:
        return {d: m.get("until") for d, m in index["zones"][zone]["days"].items()}

    index = run(f"{today}T04:20:00")
    assert index["days"][today]["until"] == f"{today}T04:00:00"
    # Kolkata (UTC+5:30): 04:00 UTC is 09:30 there, so its local today until 09:00
    assert until(index, "Asia/Kolkata") == {
        "2026-03-01": None, "2026-03-02": None, today: f"{today}T03:30:00",
    }  # fmt: skip
    # New York (UTC-5): 04:00 UTC is 23:00 of local 03-02; its local today has not begun
    assert until(index, "America/New_York") == {
        "2026-02-28": None, "2026-03-01": None, "2026-03-02": f"{today}T04:00:00",
    }  # fmt: skip
    assert_zoned_rollups(lake, spec)
    for zone in ("Asia/Kolkata", "America/New_York"):
        whole = sorted(d for d, hour in until(index, zone).items() if hour is None)
        assert sorted(d for d in until(index, zone) if cuts_key(d, zone) in index["files"]) == whole
        assert all(visits_key(d, zone) in index["files"] for d in until(index, zone))
    # the local days under way: their visits until the hour, as today's on UTC's clock
    assert_zoned_visits(lake, spec, "Asia/Kolkata", today, datetime(2026, 3, 3, 3, 30))
    assert_zoned_visits(lake, spec, "America/New_York", "2026-03-02", datetime(2026, 3, 3, 4))
    going = assert_zoned_cut_visits(lake, spec, "Asia/Kolkata", "2026-03-02")
    going += assert_zoned_cut_visits(lake, spec, "America/New_York", "2026-03-01")
    assert going > 10  # visits going on at whole hours: the check can fail

    index = run(f"{today}T05:05:00")  # an hour later, no new file: the new hour
    assert until(index, "Asia/Kolkata")[today] == f"{today}T04:30:00"
    # New York's local 03-02 ended at 05:00 UTC: whole and cut; its today begins then
    assert until(index, "America/New_York")["2026-03-02"] is None
    assert until(index, "America/New_York")[today] == f"{today}T05:00:00"
    assert_zoned_rollups(lake, spec)
    assert_zoned_cut_visits(lake, spec, "America/New_York", "2026-03-02")

    index = run("2026-03-04T00:10:00")  # closed (no events today): every local day whole
    for zone in ("Asia/Kolkata", "America/New_York"):
        assert not [d for d, hour in until(index, zone).items() if hour]
        assert cuts_key(today, zone) in index["files"]
    assert_zoned_rollups(lake, spec)
    assert_zoned_cut_visits(lake, spec, "Asia/Kolkata", today)
    assert run("2026-03-04T00:20:00") == index  # nothing changed: nothing written
